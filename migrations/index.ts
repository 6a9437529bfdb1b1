import { CreateCoreTables1764201600000 } from './1764201600000-CreateCoreTables';
import { CreateUsageRecords1764201600001 } from './1764201600001-CreateUsageRecords';
import { CreateCombos1764201600002 } from './1764201600002-CreateCombos';
import { AddRoutingColumns1764201600003 } from './1764201600003-AddRoutingColumns';
import { AddKeyMaxSessions1764201600004 } from './1764201600004-AddKeyMaxSessions';
import { AddCostAndCallLogs1764201600005 } from './1764201600005-AddCostAndCallLogs';
import { AddKeyPolicies1764201600006 } from './1764201600006-AddKeyPolicies';
import { UsageQueryIndexes1764201600007 } from './1764201600007-UsageQueryIndexes';
import { LeanLedgerIndexes1764201600008 } from './1764201600008-LeanLedgerIndexes';
import { AddMediaUnits1764201600009 } from './1764201600009-AddMediaUnits';

/** Every migration, in order. New migrations are appended here. */
export const MIGRATIONS = [
  CreateCoreTables1764201600000,
  CreateUsageRecords1764201600001,
  CreateCombos1764201600002,
  AddRoutingColumns1764201600003,
  AddKeyMaxSessions1764201600004,
  AddCostAndCallLogs1764201600005,
  AddKeyPolicies1764201600006,
  UsageQueryIndexes1764201600007,
  LeanLedgerIndexes1764201600008,
  AddMediaUnits1764201600009,
];

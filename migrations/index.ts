import { CreateCoreTables1764201600000 } from './1764201600000-CreateCoreTables';
import { CreateUsageRecords1764201600001 } from './1764201600001-CreateUsageRecords';

/** Every migration, in order. New migrations are appended here. */
export const MIGRATIONS = [CreateCoreTables1764201600000, CreateUsageRecords1764201600001];

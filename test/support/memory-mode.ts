// The e2e-memory jest project: every test app that does not ask for Redis explicitly runs on the
// in-process key-value store (the embedded default), so the whole e2e suite also covers it.
process.env.OMNI_TEST_NO_REDIS = '1';

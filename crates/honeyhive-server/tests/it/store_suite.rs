//! The store behaviour suite against the SQLite backend (real files in a temp dir).

use honeyhive_server::store::sqlite::{SqliteStore, SyncMode};
use honeyhive_server::testing::TempDir;

honeyhive_server::store_behaviour_suite!(|| {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.path(), SyncMode::Full).expect("open store");
    (store, dir)
});

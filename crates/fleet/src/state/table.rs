//! A keyed table of compact rows fed by a watch. A relist (after 410 Gone or a
//! reconnect) is staged aside and swapped in whole, so readers never see a partial or
//! empty table while it runs.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Namespace (empty for cluster-scoped objects) and name.
pub type Key = (Arc<str>, Box<str>);

#[derive(Debug, Clone)]
pub struct Table<R> {
    rows: BTreeMap<Key, R>,
    staged: Option<BTreeMap<Key, R>>,
    /// Complete lists received (the first sync, then one per relist).
    lists: u64,
}

impl<R> Default for Table<R> {
    fn default() -> Self {
        Table {
            rows: BTreeMap::new(),
            staged: None,
            lists: 0,
        }
    }
}

impl<R> Table<R> {
    /// Whether a complete list has arrived at least once.
    pub fn synced(&self) -> bool {
        self.lists > 0
    }

    /// How many complete lists arrived: 1 after the first sync, more after relists.
    pub fn lists(&self) -> u64 {
        self.lists
    }

    /// Whether a relist is in progress (the rows shown are the previous list's).
    pub fn relisting(&self) -> bool {
        self.staged.is_some()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn get(&self, ns: &str, name: &str) -> Option<&R> {
        self.rows.get(&(Arc::from(ns), Box::from(name)))
    }

    /// Rows in namespace/name order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &R)> {
        self.rows.iter()
    }

    pub fn values(&self) -> impl Iterator<Item = &R> {
        self.rows.values()
    }

    pub fn begin_relist(&mut self) {
        self.staged = Some(BTreeMap::new());
    }

    /// An object of the list in progress.
    pub fn stage(&mut self, key: Key, row: R) {
        self.staged
            .get_or_insert_with(BTreeMap::new)
            .insert(key, row);
    }

    /// The list is complete: it replaces the table in one step.
    pub fn commit_relist(&mut self) {
        if let Some(staged) = self.staged.take() {
            self.rows = staged;
        }
        self.lists += 1;
    }

    /// A live change (after the list).
    pub fn upsert(&mut self, key: Key, row: R) {
        self.rows.insert(key, row);
    }

    pub fn remove(&mut self, key: &Key) {
        self.rows.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &str) -> Key {
        (Arc::from("ns"), Box::from(n))
    }

    #[test]
    fn relist_keeps_old_rows_visible_until_it_completes() {
        let mut t = Table::default();
        t.begin_relist();
        t.stage(key("a"), 1);
        t.stage(key("b"), 2);
        assert_eq!(t.len(), 0, "nothing shown before the first list completes");
        t.commit_relist();
        assert_eq!(t.len(), 2);
        t.begin_relist();
        t.stage(key("a"), 10);
        assert_eq!(t.len(), 2, "the old list stays while the relist runs");
        assert!(t.relisting());
        t.commit_relist();
        assert_eq!(t.len(), 1, "then the new list replaces it whole");
        assert_eq!(t.get("ns", "a"), Some(&10));
    }

    #[test]
    fn live_changes_apply_in_place() {
        let mut t = Table::default();
        t.upsert(key("a"), 1);
        t.upsert(key("a"), 2);
        t.remove(&key("b"));
        assert_eq!(t.get("ns", "a"), Some(&2));
        t.remove(&key("a"));
        assert!(t.is_empty());
    }
}

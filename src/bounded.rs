//! A map bounded in entries and in bytes, for caches fed by what agents and APIs send (names, paths, pricing
//! documents): past either bound it starts again empty, and what it held is read again on demand, so no
//! input can grow it without limit. An entry heavier than the byte bound alone is not kept at all.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
pub struct BoundedMap<K, V> {
    map: HashMap<K, (usize, V)>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl<K: Hash + Eq, V> BoundedMap<K, V> {
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        BoundedMap { map: HashMap::new(), bytes: 0, max_entries, max_bytes }
    }

    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key).map(|(_, v)| v)
    }

    /// Keeps `value` under `key`, weighing `bytes` (its key and value as held in memory).
    pub fn insert(&mut self, key: K, value: V, bytes: usize) {
        self.remove(&key);
        if bytes > self.max_bytes {
            return;
        }
        if self.map.len() >= self.max_entries || self.bytes.saturating_add(bytes) > self.max_bytes {
            self.map.clear();
            self.bytes = 0;
        }
        self.bytes += bytes;
        self.map.insert(key, (bytes, value));
    }

    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let (bytes, value) = self.map.remove(key)?;
        self.bytes -= bytes;
        Some(value)
    }

    /// Entries held, and the bytes they weigh.
    pub fn footprint(&self) -> (usize, usize) {
        (self.map.len(), self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_entries_nor_bytes_grow_past_their_bounds() {
        let mut m = BoundedMap::new(3, 100);
        for i in 0..10 {
            m.insert(i, (), 10);
            let (n, bytes) = m.footprint();
            assert!(n <= 3 && bytes <= 100, "{n} entries, {bytes} bytes");
        }
        m.insert(100, (), 60);
        m.insert(101, (), 60);
        assert!(m.footprint().1 <= 100);
        assert!(m.get(&101).is_some(), "the newest entry is kept");
        // Too heavy alone: not kept, and it does not empty the map either.
        m.insert(102, (), 101);
        assert!(m.get(&102).is_none());
        assert!(m.get(&101).is_some());
        // Replacing an entry counts its weight once.
        m.insert(101, (), 50);
        assert_eq!(m.footprint(), (1, 50));
        assert_eq!(m.remove(&101), Some(()));
        assert_eq!(m.footprint(), (0, 0));
    }
}

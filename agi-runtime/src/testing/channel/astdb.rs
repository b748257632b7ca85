//! The Asterisk database (`DATABASE …`), with the replies of the real one.

use std::collections::BTreeMap;

/// Keys are stored as Asterisk does, as `/family/key` paths.
#[derive(Debug, Clone, Default)]
pub(crate) struct AstDb {
    entries: BTreeMap<String, String>,
}

fn path(family: &str, key: &str) -> String {
    format!("/{family}/{key}")
}

impl AstDb {
    pub(crate) fn get(&self, family: &str, key: &str) -> Option<&str> {
        self.entries.get(&path(family, key)).map(String::as_str)
    }

    pub(crate) fn put(&mut self, family: &str, key: &str, value: &str) {
        self.entries.insert(path(family, key), value.to_owned());
    }

    /// `DATABASE DEL`: Asterisk answers `1` whether or not the key existed.
    pub(crate) fn del(&mut self, family: &str, key: &str) -> char {
        self.entries.remove(&path(family, key));
        '1'
    }

    /// `DATABASE DELTREE`: inverted since 2012, `0` when entries were deleted and `1`
    /// when there was nothing to delete (AGI-PROTOCOL.md §3).
    pub(crate) fn deltree(&mut self, family: &str, keytree: Option<&str>) -> char {
        let prefix = match keytree {
            Some(tree) if !tree.is_empty() => path(family, tree),
            _ => format!("/{family}"),
        };
        let before = self.entries.len();
        self.entries.retain(|key, _| !(key == &prefix || key.starts_with(&format!("{prefix}/"))));
        if self.entries.len() < before { '0' } else { '1' }
    }

    /// Every entry as `(family/key, value)`, sorted.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.strip_prefix('/').unwrap_or(k), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_like_asterisk_22() {
        // TV-16: PUT, GET, GET missing, DEL twice (1 both times), DELTREE twice (0 then 1).
        let mut db = AstDb::default();
        db.put("agitest", "key1", "value one");
        assert_eq!(db.get("agitest", "key1"), Some("value one"));
        assert_eq!(db.get("agitest", "nokey"), None);
        assert_eq!(db.del("agitest", "key1"), '1');
        assert_eq!(db.del("agitest", "key1"), '1');
        db.put("agitest", "k2", "v2");
        db.put("agitestx", "k", "kept");
        assert_eq!(db.deltree("agitest", None), '0');
        assert_eq!(db.deltree("agitest", None), '1');
        assert_eq!(db.entries().collect::<Vec<_>>(), [("agitestx/k", "kept")]);
    }

    #[test]
    fn deltree_takes_a_subtree() {
        let mut db = AstDb::default();
        db.put("f", "a/1", "x");
        db.put("f", "ab", "y");
        assert_eq!(db.deltree("f", Some("a")), '0');
        assert_eq!(db.get("f", "ab"), Some("y"));
    }
}

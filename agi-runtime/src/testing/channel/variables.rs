//! Channel variables and the expansion of `${…}` references (`GET FULL VARIABLE`).
//!
//! Expansion follows Asterisk's: `${NAME}` is a variable, `${FUNC(args)}` a dialplan
//! function, `${NAME:offset:length}` a substring, references nest
//! (`${LEN(${FOO})}`), an unknown name expands to nothing, and the result is not
//! expanded again. `$[…]` expressions are left as they are.

use std::collections::BTreeMap;

/// Where names are looked up: the channel, with its built-in variables and functions.
pub(crate) trait Scope {
    /// A variable by name (built-in or set on the channel).
    fn variable(&self, name: &str) -> Option<String>;
    /// A dialplan function: `name(args)`.
    fn function(&self, name: &str, args: &str) -> Option<String>;
}

/// The variables set on the channel (names are case-sensitive, as in Asterisk).
#[derive(Debug, Clone, Default)]
pub(crate) struct Variables {
    values: BTreeMap<String, String>,
}

impl Variables {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub(crate) fn set(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_owned(), value.to_owned());
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Looks up one reference as `GET VARIABLE` does: a function when the name ends in `)`.
pub(crate) fn lookup(scope: &impl Scope, name: &str) -> Option<String> {
    let (name, range) = split_range(name);
    let value = match name.strip_suffix(')').and_then(|call| call.split_once('(')) {
        Some((function, args)) => scope.function(function, args)?,
        None => scope.variable(name)?,
    };
    Some(match range {
        Some((offset, length)) => substring(&value, offset, length),
        None => value,
    })
}

/// References nested deeper than this are left as they are (a line of Asterisk's
/// buffer could otherwise nest thousands deep).
const MAX_DEPTH: usize = 32;

/// Expands every `${…}` in `text`.
pub(crate) fn expand(scope: &impl Scope, text: &str) -> String {
    expand_nested(scope, text, 0)
}

fn expand_nested(scope: &impl Scope, text: &str, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let inner_start = start + 2;
        let (inner, after) = match matching_brace(&rest[inner_start..]) {
            Some(end) => (&rest[inner_start..inner_start + end], &rest[inner_start + end + 1..]),
            None => (&rest[inner_start..], ""),
        };
        let name = if inner.contains("${") { expand_nested(scope, inner, depth + 1) } else { inner.to_owned() };
        out.push_str(&lookup(scope, &name).unwrap_or_default());
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The offset of the `}` closing a reference whose body starts `text`.
fn matching_brace(text: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `NAME:offset:length` → `NAME` and the range (outside any parentheses).
fn split_range(name: &str) -> (&str, Option<(i64, Option<i64>)>) {
    let mut depth = 0i32;
    for (i, b) in name.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b':' if depth == 0 => {
                let mut parts = name[i + 1..].splitn(2, ':');
                let offset = parts.next().and_then(|o| o.trim().parse().ok()).unwrap_or(0);
                let length = parts.next().and_then(|l| l.trim().parse().ok());
                return (&name[..i], Some((offset, length)));
            }
            _ => {}
        }
    }
    (name, None)
}

/// Asterisk's substring rules: a negative offset counts from the end, a negative
/// length leaves that many characters off the end.
fn substring(value: &str, offset: i64, length: Option<i64>) -> String {
    let chars: Vec<char> = value.chars().collect();
    let len = chars.len() as i64;
    let start = if offset < 0 { (len + offset).max(0) } else { offset.min(len) };
    let end = match length {
        None => len,
        Some(l) if l < 0 => (len + l).max(start),
        Some(l) => (start + l).min(len),
    };
    chars[start as usize..end.max(start) as usize].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Test(Variables);

    impl Scope for Test {
        fn variable(&self, name: &str) -> Option<String> {
            self.0.get(name).map(str::to_owned)
        }

        fn function(&self, name: &str, args: &str) -> Option<String> {
            (name == "LEN").then(|| args.chars().count().to_string())
        }
    }

    fn scope() -> Test {
        let mut vars = Variables::default();
        vars.set("FOO", "bar baz");
        vars.set("N", "FOO");
        Test(vars)
    }

    #[test]
    fn expands_like_get_full_variable() {
        let s = scope();
        // TV-12.
        assert_eq!(expand(&s, "${FOO}-${LEN(${FOO})}"), "bar baz-7");
        assert_eq!(expand(&s, "${NOT_SET_EITHER}"), "");
        assert_eq!(expand(&s, "${${N}}"), "bar baz");
        assert_eq!(expand(&s, "a $[1+1] ${FOO:4} ${FOO:0:3} ${FOO:-3}"), "a $[1+1] baz bar baz");
        assert_eq!(expand(&s, "${FOO"), "bar baz");
        assert_eq!(expand(&s, "no reference"), "no reference");
        let deep = format!("{}FOO{}", "${".repeat(3000), "}".repeat(3000));
        assert_eq!(expand(&s, &deep).len(), 0, "unknown names, but no stack overflow");
    }

    #[test]
    fn looks_up_functions_by_their_closing_parenthesis() {
        let s = scope();
        assert_eq!(lookup(&s, "LEN(hello)").as_deref(), Some("5"));
        assert_eq!(lookup(&s, "NOPE"), None);
        assert_eq!(substring("abcdef", 1, Some(-2)), "bcd");
        assert_eq!(substring("abc", 5, Some(2)), "");
    }
}

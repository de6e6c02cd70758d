//! Actor names and paths.
//!
//! A path is not stored per actor: each cell keeps only its own [`Name`] and
//! a reference to its parent, and the path is built when someone asks for it.
//! That keeps an idle actor small (anonymous actors carry no string at all).

use std::fmt;
use std::sync::Arc;

/// The name of an actor among its siblings.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Name {
    /// Spawned without a name: displayed as `$` and the actor id in base 36.
    Anonymous(u64),
    /// A user-chosen name, unique among siblings.
    Named(Box<str>),
}

impl Name {
    /// Checks a user-chosen name: non-empty, no `/`, no leading `$`
    /// (reserved for anonymous actors), printable ASCII or alphanumerics.
    pub(crate) fn parse(name: &str) -> Result<Self, InvalidName> {
        let bad = name.is_empty()
            || name.starts_with('$')
            || name.len() > 255
            || name
                .chars()
                .any(|c| c == '/' || c == '#' || c.is_whitespace() || c.is_control());
        if bad {
            return Err(InvalidName(name.to_owned()));
        }
        Ok(Name::Named(name.into()))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Named(n) => f.write_str(n),
            Name::Anonymous(id) => {
                let mut buf = [0u8; 16];
                let mut i = buf.len();
                let mut v = *id;
                loop {
                    i -= 1;
                    let d = (v % 36) as u8;
                    buf[i] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
                    v /= 36;
                    if v == 0 {
                        break;
                    }
                }
                f.write_str("$")?;
                // The digits are ASCII by construction.
                f.write_str(std::str::from_utf8(&buf[i..]).unwrap_or("?"))
            }
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An actor name that was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid actor name {0:?}: names are non-empty, contain no '/', '#' or whitespace, and do not start with '$'"
)]
pub struct InvalidName(pub String);

/// The path of an actor inside its system, such as `/user/orders/cart-7`.
///
/// Paths are for people and logs; identity is [`crate::AnyRef`] equality,
/// which also tells apart two incarnations that reused one path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorPath(Arc<str>);

impl ActorPath {
    /// A path from text, for custom targets (test probes, remote
    /// references). The text is not checked; local actors get theirs from
    /// the runtime.
    pub fn new(s: String) -> Self {
        ActorPath(s.into())
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last element of the path: the actor's own name.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }
}

impl fmt::Display for ActorPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ActorPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_names_are_base36() {
        assert_eq!(Name::Anonymous(0).to_string(), "$0");
        assert_eq!(Name::Anonymous(35).to_string(), "$z");
        assert_eq!(Name::Anonymous(36).to_string(), "$10");
        assert_eq!(Name::Anonymous(u64::MAX).to_string(), "$3w5e11264sgsf");
    }

    #[test]
    fn names_are_checked() {
        assert!(Name::parse("cart-7").is_ok());
        for bad in ["", "a/b", "$x", "a b", "a#b"] {
            assert_eq!(Name::parse(bad), Err(InvalidName(bad.to_owned())));
        }
    }

    #[test]
    fn path_name_is_last_element() {
        let p = ActorPath::new("/user/orders/cart-7".into());
        assert_eq!(p.name(), "cart-7");
    }
}

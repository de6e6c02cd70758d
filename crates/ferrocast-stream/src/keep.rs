//! Which materialized value a composition keeps.

/// Combiners for `via_mat` and `to_mat`: keep the left value, the right
/// value, both, or neither.
///
/// ```
/// use ferrocast_stream::{Keep, Sink, Source};
/// let graph = Source::iter(vec![1, 2, 3]).to_mat(Sink::collect(), Keep::right);
/// # let _ = graph;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Keep;

impl Keep {
    /// Keeps the upstream (left) value.
    pub fn left<L, R>(left: L, _right: R) -> L {
        left
    }

    /// Keeps the downstream (right) value.
    pub fn right<L, R>(_left: L, right: R) -> R {
        right
    }

    /// Keeps both, as a pair.
    pub fn both<L, R>(left: L, right: R) -> (L, R) {
        (left, right)
    }

    /// Keeps neither.
    pub fn none<L, R>(_left: L, _right: R) {}
}

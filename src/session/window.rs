//! A list that drops its oldest items: the live session's window of recent
//! frames, rows and messages.
//!
//! Items are kept in a `Vec` with a start index, so the kept ones are
//! always one slice; dropped items are released in bulk once they number a
//! quarter of the kept ones (and at least [`MIN_COMPACT`]), which keeps
//! each drop O(1) amortized and the memory held at most that much above
//! the window.

/// Dropped items released at least at once.
const MIN_COMPACT: usize = 1024;

/// The most recent items of a list.
#[derive(Debug)]
pub struct Window<T> {
    items: Vec<T>,
    start: usize,
}

impl<T> Default for Window<T> {
    fn default() -> Self {
        Window {
            items: Vec::new(),
            start: 0,
        }
    }
}

impl<T> Window<T> {
    /// The kept items, oldest first.
    pub fn as_slice(&self) -> &[T] {
        self.items.get(self.start..).unwrap_or_default()
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.items.get_mut(self.start..).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.items.len().saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, item: T) {
        self.items.push(item);
    }

    /// Drops the `n` oldest items (all of them if there are fewer).
    pub fn drop_oldest(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.items.len());
        if self.start >= MIN_COMPACT.max(self.len() / 4) {
            self.items.drain(..self.start);
            self.start = 0;
        }
    }
}

impl<T> Extend<T> for Window<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        self.items.extend(iter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_keeps_the_newest_as_one_slice() {
        let mut window = Window::default();
        for i in 0..5000u32 {
            window.push(i);
            if window.len() > 100 {
                window.drop_oldest(1);
            }
        }
        assert_eq!(window.len(), 100);
        assert_eq!(window.as_slice().first(), Some(&4900));
        assert_eq!(window.as_slice().last(), Some(&4999));
        assert!(window.items.len() <= 100 + MIN_COMPACT);
        window.drop_oldest(1000);
        assert!(window.as_slice().is_empty());
    }
}

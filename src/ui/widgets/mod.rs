//! Drawing pieces the panes share.

pub mod chart;
pub mod field;
pub mod table;

/// Splits `height` lines among stacked sections given as (minimum, wanted): every
/// section gets its minimum first (in order, while lines last), then its wanted height
/// in order, and section `rest` takes whatever is left.
pub fn share(height: u16, sections: &[(u16, u16)], rest: usize) -> Vec<u16> {
    let mut out = vec![0u16; sections.len()];
    let mut left = height;
    for (i, (min, _)) in sections.iter().enumerate() {
        let give = (*min).min(left);
        out[i] = give;
        left -= give;
    }
    for (i, (_, want)) in sections.iter().enumerate() {
        let give = want.saturating_sub(out[i]).min(left);
        out[i] += give;
        left -= give;
    }
    if let Some(r) = out.get_mut(rest) {
        *r += left;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sections_get_minimums_then_wants_then_the_rest() {
        assert_eq!(
            super::share(20, &[(3, 12), (2, 6), (2, 4)], 2),
            vec![12, 6, 2]
        );
        assert_eq!(
            super::share(30, &[(3, 12), (2, 6), (2, 4)], 2),
            vec![12, 6, 12]
        );
        assert_eq!(
            super::share(6, &[(3, 12), (2, 6), (2, 4)], 0),
            vec![3, 2, 1]
        );
    }
}

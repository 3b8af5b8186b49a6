//! Colour names as the fleet config and themes write them (`magenta`, `light-blue`,
//! `#rrggbb`, an index 0-255). The console draws with ratatui, whose parser this one
//! mirrors: a colour the config accepts is one the console can draw. A test in the console
//! crate holds the two to the same answers.

/// A colour as written in the config, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Reset,
    /// One of the 16 named terminal colours, by its canonical lowercase name.
    Named(&'static str),
    Indexed(u8),
    Rgb(u8, u8, u8),
}

const NAMES: [&str; 17] = [
    "reset",
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "gray",
    "darkgray",
    "lightred",
    "lightgreen",
    "lightyellow",
    "lightblue",
    "lightmagenta",
    "lightcyan",
    "white",
];

/// Parses a colour; `None` when the text names none.
pub fn parse(text: &str) -> Option<Colour> {
    // The spellings found in the wild: case, separators, bright/light, grey/silver.
    let canonical = text
        .to_lowercase()
        .replace([' ', '-', '_'], "")
        .replace("bright", "light")
        .replace("grey", "gray")
        .replace("silver", "gray")
        .replace("lightblack", "darkgray")
        .replace("lightwhite", "white")
        .replace("lightgray", "white");
    if let Some(name) = NAMES.iter().find(|n| **n == canonical) {
        return Some(if *name == "reset" {
            Colour::Reset
        } else {
            Colour::Named(name)
        });
    }
    if let Ok(index) = text.parse::<u8>() {
        return Some(Colour::Indexed(index));
    }
    parse_hex(text).map(|(r, g, b)| Colour::Rgb(r, g, b))
}

fn parse_hex(text: &str) -> Option<(u8, u8, u8)> {
    if !text.starts_with('#') || text.len() != 7 {
        return None;
    }
    let byte = |range: std::ops::Range<usize>| u8::from_str_radix(text.get(range)?, 16).ok();
    Some((byte(1..3)?, byte(3..5)?, byte(5..7)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_colour_agree() {
        for text in ["light-blue", "LightBlue", "bright_blue", "light blue"] {
            assert_eq!(parse(text), Some(Colour::Named("lightblue")), "{text}");
        }
        assert_eq!(parse("grey"), Some(Colour::Named("gray")));
        assert_eq!(parse("#00ff7f"), Some(Colour::Rgb(0, 255, 127)));
        assert_eq!(parse("208"), Some(Colour::Indexed(208)));
    }

    #[test]
    fn non_colours_are_refused() {
        for text in ["", "mauve", "#12345", "#gggggg", "256", "#1234567"] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}

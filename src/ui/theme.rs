//! Colours and text attributes by role, from `themes/<name>.toml`.
//!
//! The four built-in themes are compiled in, so the binary works from any directory; a
//! file of the same name in the user's themes directory replaces a built-in, and a user
//! theme may `extends = "<base>"` to change only some roles. `NO_COLOR` selects the
//! monochrome theme unless a theme was asked for explicitly (no-color.org: "user-level
//! configuration ... should override NO_COLOR").

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use ck8s_model::alert::Severity;

pub const DEFAULT: &str = "dark";
pub const MONOCHROME: &str = "monochrome";

const BUILT_IN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
];

macro_rules! roles {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// One style per role; panes ask for roles, never for colours.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct Styles {
            $($(#[doc = $doc])* pub $name: Style,)*
        }

        impl Styles {
            pub const ROLES: &[&str] = &[$(stringify!($name)),*];

            fn slot(&mut self, role: &str) -> Option<&mut Style> {
                match role {
                    $(stringify!($name) => Some(&mut self.$name),)*
                    _ => None,
                }
            }
        }
    };
}

roles! {
    text, muted, title, header, group, border, modal_border, selection, bar, bar_muted,
    tab, tab_active, key, hint, ok, info, warning, high, critical, stale, error, input,
    input_error, chart_good, chart_bad, chart_excluded, chart_missing,
    /// The environment segment of the breadcrumb when the environment has no accent.
    accent,
    danger, disabled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub name: String,
    /// No colours: environment accents are ignored too.
    pub monochrome: bool,
    pub s: Styles,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ThemeError {
    #[error(
        "theme {name:?} not found: the built-in themes are {built_in}; user themes go in {dir}"
    )]
    NotFound {
        name: String,
        built_in: String,
        dir: String,
    },
    #[error("theme file {file}: {reason}")]
    Invalid { file: String, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    extends: Option<String>,
    monochrome: Option<bool>,
    #[serde(default)]
    styles: std::collections::BTreeMap<String, String>,
}

impl Theme {
    /// The theme to start with: the one asked for, else monochrome under `NO_COLOR`, else
    /// the default.
    pub fn resolve(
        requested: Option<&str>,
        user_dir: &Path,
        no_color: bool,
    ) -> Result<Theme, ThemeError> {
        let name = match requested {
            Some(n) => n,
            None if no_color => MONOCHROME,
            None => DEFAULT,
        };
        Theme::load(name, user_dir)
    }

    /// Loads `name` from the user's themes directory, else from the built-ins.
    pub fn load(name: &str, user_dir: &Path) -> Result<Theme, ThemeError> {
        Theme::load_depth(name, user_dir, 0)
    }

    fn load_depth(name: &str, user_dir: &Path, depth: u8) -> Result<Theme, ThemeError> {
        let user_file = user_dir.join(format!("{name}.toml"));
        let (origin, text) = match std::fs::read_to_string(&user_file) {
            Ok(text) => (user_file.display().to_string(), text),
            // The user's file is there but is no text file: say so, not "not found".
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(ThemeError::Invalid {
                    file: user_file.display().to_string(),
                    reason: format!("could not be read as a TOML theme: {e}"),
                });
            }
            Err(_) => match BUILT_IN.iter().find(|(n, _)| *n == name) {
                Some((n, text)) => (format!("themes/{n}.toml (built in)"), text.to_string()),
                None => {
                    return Err(ThemeError::NotFound {
                        name: name.to_string(),
                        built_in: built_in_names().join(", "),
                        dir: user_dir.display().to_string(),
                    });
                }
            },
        };
        let invalid = |reason: String| ThemeError::Invalid {
            file: origin.clone(),
            reason,
        };
        let file: ThemeFile = toml::from_str(&text).map_err(|e| invalid(e.message().into()))?;
        let mut theme = match file.extends.as_deref() {
            // A cycle of `extends` would recurse forever; three levels is plenty.
            Some(_) if depth > 3 => return Err(invalid("`extends` nests too deep".into())),
            Some(base) => Theme::load_depth(base, user_dir, depth + 1)?,
            None => Theme {
                name: String::new(),
                monochrome: false,
                s: Styles::default(),
            },
        };
        theme.name = file.name.unwrap_or_else(|| name.to_string());
        if let Some(m) = file.monochrome {
            theme.monochrome = m;
        }
        for (role, spec) in &file.styles {
            let style = parse_style(spec).map_err(|e| invalid(format!("style `{role}`: {e}")))?;
            let slot = theme.s.slot(role).ok_or_else(|| {
                invalid(format!(
                    "unknown style `{role}`; the styles are {}",
                    Styles::ROLES.join(", ")
                ))
            })?;
            *slot = style;
        }
        Ok(theme)
    }

    pub fn built_in(name: &str) -> Option<Theme> {
        BUILT_IN
            .iter()
            .any(|(n, _)| *n == name)
            .then(|| Theme::load(name, Path::new("/nonexistent")).ok())
            .flatten()
    }

    /// Built-in names, then user themes, for completion.
    pub fn names(user_dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = built_in_names().iter().map(|s| s.to_string()).collect();
        if let Ok(dir) = std::fs::read_dir(user_dir) {
            let mut user: Vec<String> = dir
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let p = e.path();
                    (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(String::from))?
                })
                .filter(|n| !names.contains(n))
                .collect();
            user.sort();
            names.extend(user);
        }
        names
    }

    /// The style of an environment's name: its accent colour as a background, or the
    /// theme's accent when it has none (or the theme is monochrome).
    pub fn env_accent(&self, accent: Option<&str>) -> Style {
        match accent.and_then(|a| Color::from_str(a).ok()) {
            Some(color) if !self.monochrome => Style::new()
                .bg(color)
                .fg(contrast(color))
                .add_modifier(Modifier::BOLD),
            _ => self.s.accent,
        }
    }

    /// The border colour inside an environment with an accent, so that production can
    /// look different at a glance.
    pub fn env_border(&self, accent: Option<&str>) -> Style {
        match accent.and_then(|a| Color::from_str(a).ok()) {
            Some(color) if !self.monochrome => Style::new().fg(color),
            _ => self.s.border,
        }
    }

    pub fn severity(&self, severity: Severity) -> Style {
        match severity {
            Severity::Critical => self.s.critical,
            Severity::High => self.s.high,
            Severity::Warning => self.s.warning,
            Severity::Info => self.s.info,
            Severity::None => self.s.muted,
        }
    }
}

fn built_in_names() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(n, _)| *n).collect()
}

/// Black or white text, whichever reads on `bg`.
fn contrast(bg: Color) -> Color {
    match bg {
        Color::Rgb(r, g, b) => {
            let luma = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
            if luma > 140.0 {
                Color::Black
            } else {
                Color::White
            }
        }
        Color::Black
        | Color::Red
        | Color::Blue
        | Color::Magenta
        | Color::DarkGray
        | Color::LightRed
        | Color::LightBlue => Color::White,
        _ => Color::Black,
    }
}

/// `"<fg> [on <bg>] [modifiers]"`, e.g. `"red bold"`, `"black on cyan"`, `"reversed"`.
pub fn parse_style(spec: &str) -> Result<Style, String> {
    let mut style = Style::new();
    let mut words = spec.split_whitespace().peekable();
    while let Some(word) = words.next() {
        let modifier = match word.to_ascii_lowercase().as_str() {
            "bold" => Some(Modifier::BOLD),
            "dim" => Some(Modifier::DIM),
            "italic" => Some(Modifier::ITALIC),
            "underlined" | "underline" => Some(Modifier::UNDERLINED),
            "reversed" | "reverse" => Some(Modifier::REVERSED),
            _ => None,
        };
        if let Some(m) = modifier {
            style = style.add_modifier(m);
        } else if word == "on" {
            let bg = words.next().ok_or("`on` needs a colour after it")?;
            style = style.bg(parse_color(bg)?);
        } else {
            style = style.fg(parse_color(word)?);
        }
    }
    Ok(style)
}

fn parse_color(word: &str) -> Result<Color, String> {
    if word.eq_ignore_ascii_case("default") {
        return Ok(Color::Reset);
    }
    Color::from_str(word).map_err(|_| {
        format!("unknown colour or attribute `{word}` (use a colour name, 0-255, #rrggbb, or bold/dim/italic/underlined/reversed)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any theme file, and any style, is read or refused naming the theme; never a
        /// panic.
        #[test]
        fn any_theme_file_is_loaded_or_refused(
            text in proptest::collection::vec(proptest::prelude::any::<char>(), 0..1_500)
                .prop_map(String::from_iter),
            style in proptest::collection::vec(proptest::prelude::any::<char>(), 0..60)
                .prop_map(String::from_iter),
        ) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("fuzzed.toml"), format!("[styles]\ntext = {style:?}\n{text}")).unwrap();
            if let Err(e) = Theme::load("fuzzed", dir.path()) {
                proptest::prop_assert!(e.to_string().contains("fuzzed"), "{e}");
            }
            let _ = parse_style(&style);
        }
    }

    #[test]
    fn every_built_in_theme_sets_every_role() {
        for (name, _) in BUILT_IN {
            let t = Theme::built_in(name).expect(name);
            let text = BUILT_IN.iter().find(|(n, _)| *n == name).unwrap().1;
            let file: ThemeFile = toml::from_str(text).unwrap();
            for role in Styles::ROLES {
                assert!(file.styles.contains_key(*role), "{name} lacks {role}");
            }
            assert_eq!(t.name, name);
        }
    }

    #[test]
    fn dark_light_and_high_contrast_use_only_16_colours() {
        for name in ["dark", "light", "high-contrast"] {
            let text = BUILT_IN.iter().find(|(n, _)| *n == name).unwrap().1;
            let file: ThemeFile = toml::from_str(text).unwrap();
            for (role, spec) in &file.styles {
                let s = parse_style(spec).unwrap();
                for c in [s.fg, s.bg].into_iter().flatten() {
                    assert!(
                        !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                        "{name}.{role} uses {c:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn styles_parse_colours_backgrounds_and_modifiers() {
        let s = parse_style("black on cyan bold").unwrap();
        assert_eq!(
            s,
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        );
        assert_eq!(
            parse_style("#ff0000").unwrap().fg,
            Some(Color::Rgb(255, 0, 0))
        );
        assert!(parse_style("redd").unwrap_err().contains("redd"));
        assert!(parse_style("red on").is_err());
    }

    #[test]
    fn no_color_picks_monochrome_unless_a_theme_is_named() {
        let dir = Path::new("/nonexistent");
        assert_eq!(Theme::resolve(None, dir, true).unwrap().name, "monochrome");
        assert_eq!(Theme::resolve(None, dir, false).unwrap().name, "dark");
        assert_eq!(
            Theme::resolve(Some("light"), dir, true).unwrap().name,
            "light"
        );
        assert!(matches!(
            Theme::resolve(Some("nope"), dir, false),
            Err(ThemeError::NotFound { .. })
        ));
    }

    #[test]
    fn user_themes_extend_a_base_and_fail_clearly() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("prod.toml"),
            "extends = \"dark\"\n[styles]\nborder = \"red\"\n",
        )
        .unwrap();
        let t = Theme::load("prod", dir.path()).unwrap();
        assert_eq!(t.s.border.fg, Some(Color::Red));
        assert_eq!(t.s.ok, Theme::built_in("dark").unwrap().s.ok);
        assert!(Theme::names(dir.path()).contains(&"prod".to_string()));

        std::fs::write(dir.path().join("bad.toml"), "[styles]\nbordr = \"red\"\n").unwrap();
        let err = Theme::load("bad", dir.path()).unwrap_err().to_string();
        assert!(err.contains("unknown style `bordr`"), "{err}");
    }

    #[test]
    fn accents_colour_the_environment_but_not_in_monochrome() {
        let dark = Theme::built_in("dark").unwrap();
        assert_eq!(dark.env_accent(Some("red")).bg, Some(Color::Red));
        assert_eq!(dark.env_accent(Some("not a colour")), dark.s.accent);
        let mono = Theme::built_in("monochrome").unwrap();
        assert_eq!(mono.env_accent(Some("red")), mono.s.accent);
    }

    #[test]
    fn a_theme_file_that_is_not_text_is_named_not_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("binary.toml"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
        let err = Theme::load("binary", dir.path()).unwrap_err().to_string();
        assert!(err.contains("binary.toml"), "{err}");
        assert!(err.contains("could not be read as a TOML theme"), "{err}");
        assert!(!err.contains("not found"), "{err}");
    }
}

//! A small, honest subset of PromQL for the simulated Prometheus: a real parser with real
//! type checks and real evaluation rules (lookback, range windows, extrapolated `rate`,
//! one-to-one vector matching), so the console's queries are answered the way
//! Prometheus 2.42 answers them, and anything outside the subset is refused with a clear
//! `bad_data` error instead of being answered wrongly.
//!
//! Supported:
//! - numbers (`1`, `0.5`, `1e3`, `Inf`, `NaN`);
//! - vector selectors `name{l="v", l!="v", l=~"re", l!~"re"}` (name optional);
//! - range selectors `sel[5m]`, `[30d]`, `[1h30m]` (units ms, s, m, h, d, w, y);
//! - functions `rate`, `increase`, `avg_over_time`, `sum_over_time`, `count_over_time`,
//!   `min_over_time`, `max_over_time`, `last_over_time` (one range-vector argument);
//! - aggregations `sum|avg|min|max|count [by (l, ...)] (expr)`, `by` before or after;
//! - arithmetic `+ - * /` between scalars and instant vectors (one-to-one matching on
//!   all labels but `__name__`), and unary minus.
//!
//! As in Prometheus 2.x, a range window `[t - r, t]` includes both ends and an instant
//! selector looks back 5 minutes (inclusive) for the latest sample.

use std::collections::BTreeMap;
use std::sync::Arc;

use regex::Regex;

pub type Labels = BTreeMap<String, String>;

/// How far an instant selector looks back for a sample, as Prometheus' default.
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// A query failure, split the way the HTTP API reports it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The query or a parameter is malformed: HTTP 400, errorType `bad_data`.
    #[error("{0}")]
    BadData(String),
    /// The query is valid but cannot be evaluated: HTTP 422, errorType `execution`.
    #[error("{0}")]
    Execution(String),
}

// ---------------------------------------------------------------------------------------
// Matchers
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// A label matcher with Prometheus semantics: a missing label has the value `""`, and
/// regexes are anchored at both ends.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, String> {
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("invalid regular expression {value:?}: {e}"))?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            re,
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            _ => false,
        }
    }

    /// Whether the labels satisfy this matcher (absent labels count as empty).
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).map_or("", String::as_str))
    }
}

/// Whether a label name is valid (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

// ---------------------------------------------------------------------------------------
// AST
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Rate,
    Increase,
    AvgOverTime,
    SumOverTime,
    CountOverTime,
    MinOverTime,
    MaxOverTime,
    LastOverTime,
}

impl Func {
    const ALL: [(&'static str, Func); 8] = [
        ("rate", Func::Rate),
        ("increase", Func::Increase),
        ("avg_over_time", Func::AvgOverTime),
        ("sum_over_time", Func::SumOverTime),
        ("count_over_time", Func::CountOverTime),
        ("min_over_time", Func::MinOverTime),
        ("max_over_time", Func::MaxOverTime),
        ("last_over_time", Func::LastOverTime),
    ];

    fn lookup(name: &str) -> Option<Func> {
        Func::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    fn name(self) -> &'static str {
        Func::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(n, _)| n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
}

impl AggOp {
    fn lookup(name: &str) -> Option<AggOp> {
        Some(match name {
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "count" => AggOp::Count,
            _ => return None,
        })
    }
}

/// Real PromQL aggregations this subset does not implement; named so the error says so
/// instead of treating them as metric names.
const UNSUPPORTED_AGGREGATIONS: &[&str] = &[
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Selector {
    /// Index into the per-query table of selected series.
    id: usize,
    pub matchers: Vec<Matcher>,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Number(f64),
    Selector(Selector),
    Range {
        sel: Selector,
        range_ms: i64,
    },
    Call {
        func: Func,
        arg: Box<Expr>,
    },
    Aggregate {
        op: AggOp,
        by: Vec<String>,
        arg: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Neg(Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Scalar,
    Vector,
    Matrix,
}

impl ValueType {
    fn describe(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
        }
    }
}

impl Expr {
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::Range { .. } => ValueType::Matrix,
            Expr::Binary { lhs, rhs, .. } => {
                if lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Neg(e) => e.value_type(),
            _ => ValueType::Vector,
        }
    }

    fn selectors<'a>(&'a self, out: &mut Vec<&'a Selector>) {
        match self {
            Expr::Number(_) => {}
            Expr::Selector(s) | Expr::Range { sel: s, .. } => out.push(s),
            Expr::Call { arg, .. } | Expr::Aggregate { arg, .. } | Expr::Neg(arg) => {
                arg.selectors(out)
            }
            Expr::Binary { lhs, rhs, .. } => {
                lhs.selectors(out);
                rhs.selectors(out);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------

/// Parses a query. Errors read like Prometheus': `1:<col>: parse error: <what>`.
pub fn parse(query: &str) -> Result<Expr, QueryError> {
    let mut p = Parser {
        src: query,
        pos: 0,
        selectors: 0,
    };
    p.skip_ws();
    if p.at_end() {
        return Err(p.error("no expression found in input"));
    }
    let expr = p.expr()?;
    p.skip_ws();
    if !p.at_end() {
        let rest: String = p.src[p.pos..].chars().take(12).collect();
        return Err(p.error(&format!("unexpected {rest:?} after the expression")));
    }
    Ok(expr)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    selectors: usize,
}

type PResult<T> = Result<T, QueryError>;

impl Parser<'_> {
    fn error(&self, msg: &str) -> QueryError {
        let col = self.src[..self.pos].chars().count() + 1;
        QueryError::BadData(format!("1:{col}: parse error: {msg}"))
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if c == '#' {
                // Comments run to the end of the line, as in PromQL.
                while let Some(c) = self.peek() {
                    self.pos += c.len_utf8();
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    /// Consumes `s` (after whitespace) if it comes next.
    fn eat(&mut self, s: &str) -> bool {
        self.skip_ws();
        if self.src[self.pos..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str, context: &str) -> PResult<()> {
        if self.eat(s) {
            Ok(())
        } else {
            let found = self
                .peek()
                .map_or("end of input".to_string(), |c| format!("{c:?}"));
            Err(self.error(&format!(
                "unexpected {found} in {context}, expected \"{s}\""
            )))
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let rest = &self.src[self.pos..];
        let len = rest
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
            })
            .map_or(rest.len(), |(i, _)| i);
        (len > 0).then(|| {
            self.pos += len;
            rest[..len].to_string()
        })
    }

    fn expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.term()?;
        loop {
            let op = if self.eat("+") {
                BinOp::Add
            } else if self.eat("-") {
                BinOp::Sub
            } else {
                return Ok(lhs);
            };
            let rhs = self.term()?;
            lhs = self.binary(op, lhs, rhs)?;
        }
    }

    fn term(&mut self) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        loop {
            let op = if self.eat("*") {
                BinOp::Mul
            } else if self.eat("/") {
                BinOp::Div
            } else {
                self.skip_ws();
                if let Some(c @ ('%' | '^' | '=' | '!' | '<' | '>')) = self.peek() {
                    return Err(self.error(&format!(
                        "the operator starting with {c:?} is not supported by the simulated \
                         Prometheus (supported: + - * /)"
                    )));
                }
                return Ok(lhs);
            };
            let rhs = self.unary()?;
            lhs = self.binary(op, lhs, rhs)?;
        }
    }

    fn binary(&self, op: BinOp, lhs: Expr, rhs: Expr) -> PResult<Expr> {
        for side in [&lhs, &rhs] {
            if side.value_type() == ValueType::Matrix {
                return Err(self
                    .error("binary expression must contain only scalar and instant vector types"));
            }
        }
        if let (Expr::Number(a), Expr::Number(b)) = (&lhs, &rhs) {
            return Ok(Expr::Number(op.apply(*a, *b)));
        }
        Ok(Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        })
    }

    fn unary(&mut self) -> PResult<Expr> {
        if self.eat("-") {
            let e = self.unary()?;
            if e.value_type() == ValueType::Matrix {
                return Err(self.error(
                    "unary expression only allowed on expressions of type scalar or instant vector",
                ));
            }
            return Ok(match e {
                Expr::Number(n) => Expr::Number(-n),
                e => Expr::Neg(Box::new(e)),
            });
        }
        if self.eat("+") {
            return self.unary();
        }
        let e = self.primary()?;
        self.reject_modifiers()?;
        Ok(e)
    }

    fn reject_modifiers(&mut self) -> PResult<()> {
        self.skip_ws();
        let save = self.pos;
        if self.eat("@") {
            self.pos = save;
            return Err(self.error("the @ modifier is not supported by the simulated Prometheus"));
        }
        if self.ident().as_deref() == Some("offset") {
            self.pos = save;
            return Err(
                self.error("the offset modifier is not supported by the simulated Prometheus")
            );
        }
        self.pos = save;
        Ok(())
    }

    fn primary(&mut self) -> PResult<Expr> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some('(') => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect(")", "parenthesized expression")?;
                if self.eat("[") {
                    return Err(
                        self.error("subqueries are not supported by the simulated Prometheus")
                    );
                }
                Ok(e)
            }
            Some('{') => self.selector(None),
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
            Some('"' | '\'' | '`') => Err(self.error(
                "string literals are only supported as label values in the simulated Prometheus",
            )),
            Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let name = self.ident().unwrap_or_default();
                self.named(name)
            }
            Some(c) => Err(self.error(&format!("unexpected character: {c:?}"))),
        }
    }

    fn number(&mut self) -> PResult<Expr> {
        let rest = &self.src[self.pos..];
        let mut len = 0;
        let bytes = rest.as_bytes();
        while len < bytes.len() {
            let b = bytes[len];
            let exp_sign =
                (b == b'+' || b == b'-') && len > 0 && matches!(bytes[len - 1], b'e' | b'E');
            if b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'E' || exp_sign {
                len += 1;
            } else {
                break;
            }
        }
        let text = &rest[..len];
        let n: f64 = text
            .parse()
            .map_err(|_| self.error(&format!("bad number or duration syntax: {text:?}")))?;
        self.pos += len;
        Ok(Expr::Number(n))
    }

    /// An identifier: a number keyword, an aggregation, a function call or a metric name.
    fn named(&mut self, name: String) -> PResult<Expr> {
        match name.to_ascii_lowercase().as_str() {
            "inf" => return Ok(Expr::Number(f64::INFINITY)),
            "nan" => return Ok(Expr::Number(f64::NAN)),
            _ => {}
        }
        if let Some(op) = AggOp::lookup(&name) {
            return self.aggregation(op);
        }
        if UNSUPPORTED_AGGREGATIONS.contains(&name.as_str()) {
            return Err(self.error(&format!(
                "aggregation {name:?} is not supported by the simulated Prometheus \
                 (supported: sum, avg, min, max, count)"
            )));
        }
        if matches!(
            name.as_str(),
            "by" | "without" | "offset" | "bool" | "on" | "ignoring"
        ) {
            return Err(self.error(&format!("unexpected keyword {name:?}")));
        }
        self.skip_ws();
        if self.peek() == Some('(') {
            return self.call(&name);
        }
        self.selector(Some(name))
    }

    fn aggregation(&mut self, op: AggOp) -> PResult<Expr> {
        let mut by = self.grouping()?;
        self.expect("(", "aggregation")?;
        let arg = self.expr()?;
        self.expect(")", "aggregation")?;
        if let Some(after) = self.grouping()? {
            if by.is_some() {
                return Err(self.error("aggregation must only contain one grouping clause"));
            }
            by = Some(after);
        }
        let t = arg.value_type();
        if t != ValueType::Vector {
            return Err(self.error(&format!(
                "expected type instant vector in aggregation expression, got {}",
                t.describe()
            )));
        }
        Ok(Expr::Aggregate {
            op,
            by: by.unwrap_or_default(),
            arg: Box::new(arg),
        })
    }

    /// An optional `by (l1, l2)` clause.
    fn grouping(&mut self) -> PResult<Option<Vec<String>>> {
        self.skip_ws();
        let save = self.pos;
        match self.ident().as_deref() {
            Some("by") => {}
            Some("without") => {
                return Err(self.error(
                    "\"without\" is not supported by the simulated Prometheus; use \"by\"",
                ));
            }
            _ => {
                self.pos = save;
                return Ok(None);
            }
        }
        self.expect("(", "grouping clause")?;
        let mut labels = Vec::new();
        loop {
            if self.eat(")") {
                return Ok(Some(labels));
            }
            match self.ident() {
                Some(l) if is_label_name(&l) => labels.push(l),
                _ => return Err(self.error("expected a label name in grouping clause")),
            }
            if !self.eat(",") {
                self.expect(")", "grouping clause")?;
                return Ok(Some(labels));
            }
        }
    }

    fn call(&mut self, name: &str) -> PResult<Expr> {
        let Some(func) = Func::lookup(name) else {
            let supported: Vec<&str> = Func::ALL.iter().map(|(n, _)| *n).collect();
            return Err(self.error(&format!(
                "function {name:?} is not supported by the simulated Prometheus (supported: {})",
                supported.join(", ")
            )));
        };
        self.expect("(", "function call")?;
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.expr()?);
                if self.eat(")") {
                    break;
                }
                self.expect(",", "function call arguments")?;
            }
        }
        if args.len() != 1 {
            return Err(self.error(&format!(
                "expected 1 argument(s) in call to {name:?}, got {}",
                args.len()
            )));
        }
        let arg = args.remove(0);
        let t = arg.value_type();
        if t != ValueType::Matrix {
            return Err(self.error(&format!(
                "expected type range vector in call to function {:?}, got {}",
                func.name(),
                t.describe()
            )));
        }
        Ok(Expr::Call {
            func,
            arg: Box::new(arg),
        })
    }

    fn selector(&mut self, name: Option<String>) -> PResult<Expr> {
        let mut matchers = Vec::new();
        if let Some(n) = &name {
            matchers.push(Matcher::new("__name__", MatchOp::Equal, n).map_err(|e| self.error(&e))?);
        }
        if self.eat("{") {
            self.label_matchers(&mut matchers)?;
        }
        if matchers.iter().all(|m| m.matches("")) {
            return Err(self.error("vector selector must contain at least one non-empty matcher"));
        }
        let sel = Selector {
            id: self.selectors,
            matchers,
        };
        self.selectors += 1;
        if self.eat("[") {
            let range_ms = self.duration_until_bracket()?;
            return Ok(Expr::Range { sel, range_ms });
        }
        Ok(Expr::Selector(sel))
    }

    fn label_matchers(&mut self, out: &mut Vec<Matcher>) -> PResult<()> {
        loop {
            if self.eat("}") {
                return Ok(());
            }
            let Some(name) = self.ident().filter(|n| is_label_name(n)) else {
                return Err(self.error("expected a label name in label matching"));
            };
            let op = if self.eat("=~") {
                MatchOp::Regex
            } else if self.eat("!~") {
                MatchOp::NotRegex
            } else if self.eat("!=") {
                MatchOp::NotEqual
            } else if self.eat("=") {
                MatchOp::Equal
            } else {
                return Err(self.error("expected a label matching operator (=, !=, =~, !~)"));
            };
            let value = self.string()?;
            out.push(Matcher::new(&name, op, &value).map_err(|e| self.error(&e))?);
            if !self.eat(",") {
                self.expect("}", "label matching")?;
                return Ok(());
            }
        }
    }

    fn string(&mut self) -> PResult<String> {
        self.skip_ws();
        let Some(quote @ ('"' | '\'' | '`')) = self.peek() else {
            return Err(self.error("expected a quoted string as label value"));
        };
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.src[self.pos..].chars();
        while let Some(c) = chars.next() {
            self.pos += c.len_utf8();
            if c == quote {
                return Ok(out);
            }
            if c == '\\' && quote != '`' {
                let Some(e) = chars.next() else { break };
                self.pos += e.len_utf8();
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
            } else {
                out.push(c);
            }
        }
        Err(self.error("unterminated quoted string"))
    }

    fn duration_until_bracket(&mut self) -> PResult<i64> {
        let rest = &self.src[self.pos..];
        let Some(end) = rest.find(']') else {
            return Err(self.error("unclosed left bracket"));
        };
        let text = rest[..end].trim();
        if text.contains(':') {
            return Err(self.error("subqueries are not supported by the simulated Prometheus"));
        }
        let ms = parse_duration(text).map_err(|e| self.error(&e))?;
        if ms <= 0 {
            return Err(self.error("range duration must be positive"));
        }
        self.pos += end + 1;
        Ok(ms)
    }
}

/// Parses a Prometheus duration such as `5m`, `1h30m` or `30d` into milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    const UNITS: [(&str, i64); 7] = [
        ("ms", 1),
        ("s", 1000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
        ("w", 604_800_000),
        ("y", 31_536_000_000),
    ];
    let bad = || format!("bad duration syntax: {text:?}");
    if text.is_empty() {
        return Err(bad());
    }
    let mut rest = text;
    let mut total: i64 = 0;
    let mut last_unit = i64::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, scale) = UNITS
            .iter()
            .find(|(u, _)| rest.starts_with(u) && !(*u == "m" && rest.starts_with("ms")))
            .ok_or_else(bad)?;
        // Units must shrink from left to right, as Prometheus requires.
        if *scale >= last_unit {
            return Err(bad());
        }
        last_unit = *scale;
        rest = &rest[unit.len()..];
        total = n
            .checked_mul(*scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration out of range: {text:?}"))?;
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------
// Storage and series
// ---------------------------------------------------------------------------------------

/// The value of a series at one scrape time, or `None` when that scrape recorded nothing.
pub type SampleFn = Arc<dyn Fn(i64) -> Option<f64> + Send + Sync>;

/// The number and the sum of a series' samples with `from <= t <= to`, where a series can
/// say without visiting each (a probe's, from its few outages): `count_over_time` and
/// `sum_over_time` over a month then cost as much as over a minute.
pub type TotalsFn = Arc<dyn Fn(i64, i64) -> (u64, f64) + Send + Sync>;

/// A series computed on demand: samples exist at multiples of `interval_ms` between
/// `first_ms` and `last_ms` (inclusive) where `value` answers.
#[derive(Clone)]
pub struct Series {
    pub labels: Labels,
    pub interval_ms: i64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub value: SampleFn,
    /// Must agree with `value`, sample for sample.
    pub totals: Option<TotalsFn>,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("labels", &self.labels)
            .finish()
    }
}

impl Series {
    /// `count_over_time` or `sum_over_time` over `from <= t <= to` from [`Series::totals`];
    /// `None` for other functions, or when the series cannot tell.
    fn total(&self, func: Func, from: i64, to: i64) -> Option<Option<f64>> {
        let totals = self.totals.as_ref()?;
        let (count, sum) = totals(from.max(self.first_ms), to.min(self.last_ms));
        let value = match func {
            Func::CountOverTime => count as f64,
            Func::SumOverTime => sum,
            _ => return None,
        };
        // No sample in the window: no result, as for any function.
        Some((count > 0).then_some(value))
    }

    /// The raw samples with `from <= t <= to`.
    pub fn samples(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        let iv = self.interval_ms.max(1);
        let start = from.max(self.first_ms).div_euclid(iv) * iv;
        let start = if start < from.max(self.first_ms) {
            start + iv
        } else {
            start
        };
        let end = to.min(self.last_ms);
        (0..)
            .map(move |i| start + i * iv)
            .take_while(move |&t| t <= end)
            .filter_map(move |t| (self.value)(t).map(|v| (t, v)))
    }

    /// The latest sample at or before `t`, no older than the lookback window.
    pub fn latest(&self, t: i64) -> Option<(i64, f64)> {
        let iv = self.interval_ms.max(1);
        let oldest = (t - LOOKBACK_MS).max(self.first_ms);
        let mut ts = t.min(self.last_ms).div_euclid(iv) * iv;
        while ts >= oldest {
            if let Some(v) = (self.value)(ts) {
                return Some((ts, v));
            }
            ts -= iv;
        }
        None
    }
}

/// Where series come from; the simulator computes them from cluster state.
pub trait Storage {
    /// Every series whose labels satisfy all the matchers.
    fn select(&self, matchers: &[Matcher]) -> Vec<Series>;
}

// ---------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------

/// A query result, as the HTTP API reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<(Labels, f64)>),
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
}

/// Evaluates a query at one instant (milliseconds since the epoch).
pub fn eval_instant(expr: &Expr, storage: &dyn Storage, t: i64) -> Result<Value, QueryError> {
    let series = select_all(expr, storage);
    let mut v = eval(expr, &series, t)?;
    sort_value(&mut v);
    Ok(v)
}

/// Evaluates a scalar or instant-vector query at each step from `start` to `end`.
pub fn eval_range(
    expr: &Expr,
    storage: &dyn Storage,
    start: i64,
    end: i64,
    step: i64,
) -> Result<Value, QueryError> {
    let t = expr.value_type();
    if t == ValueType::Matrix {
        return Err(QueryError::BadData(format!(
            "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
            t.describe()
        )));
    }
    let series = select_all(expr, storage);
    let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    let mut ts = start;
    while ts <= end {
        match eval(expr, &series, ts)? {
            Value::Scalar(v) => out.entry(Labels::new()).or_default().push((ts, v)),
            Value::Vector(items) => {
                for (labels, v) in items {
                    out.entry(labels).or_default().push((ts, v));
                }
            }
            Value::Matrix(_) => unreachable!("range vectors were rejected above"),
        }
        ts += step;
    }
    Ok(Value::Matrix(out.into_iter().collect()))
}

fn sort_value(v: &mut Value) {
    match v {
        Value::Vector(items) => items.sort_by(|a, b| a.0.cmp(&b.0)),
        Value::Matrix(items) => items.sort_by(|a, b| a.0.cmp(&b.0)),
        Value::Scalar(_) => {}
    }
}

/// Selects every selector's series once per query, not once per step.
fn select_all(expr: &Expr, storage: &dyn Storage) -> Vec<Vec<Series>> {
    let mut sels = Vec::new();
    expr.selectors(&mut sels);
    let mut out = vec![Vec::new(); sels.iter().map(|s| s.id + 1).max().unwrap_or(0)];
    for s in sels {
        out[s.id] = storage.select(&s.matchers);
    }
    out
}

fn without_name(labels: &Labels) -> Labels {
    let mut l = labels.clone();
    l.remove("__name__");
    l
}

fn eval(expr: &Expr, series: &[Vec<Series>], t: i64) -> Result<Value, QueryError> {
    Ok(match expr {
        Expr::Number(n) => Value::Scalar(*n),
        Expr::Selector(sel) => Value::Vector(
            series[sel.id]
                .iter()
                .filter_map(|s| s.latest(t).map(|(_, v)| (s.labels.clone(), v)))
                .collect(),
        ),
        Expr::Range { sel, range_ms } => Value::Matrix(
            series[sel.id]
                .iter()
                .map(|s| {
                    (
                        s.labels.clone(),
                        s.samples(t - range_ms, t).collect::<Vec<_>>(),
                    )
                })
                .filter(|(_, samples)| !samples.is_empty())
                .collect(),
        ),
        Expr::Call { func, arg } => {
            let Expr::Range { sel, range_ms } = arg.as_ref() else {
                return Err(QueryError::Execution(
                    "function argument must be a range selector".into(),
                ));
            };
            Value::Vector(
                series[sel.id]
                    .iter()
                    .filter_map(|s| {
                        let value = match s.total(*func, t - range_ms, t) {
                            Some(total) => total,
                            None => {
                                let samples: Vec<_> = s.samples(t - range_ms, t).collect();
                                apply_func(*func, &samples, t - range_ms, t)
                            }
                        };
                        value.map(|v| (without_name(&s.labels), v))
                    })
                    .collect(),
            )
        }
        Expr::Aggregate { op, by, arg } => match eval(arg, series, t)? {
            Value::Vector(items) => Value::Vector(aggregate(*op, by, items)),
            _ => {
                return Err(QueryError::Execution(
                    "aggregation over a non-vector".into(),
                ));
            }
        },
        Expr::Neg(e) => match eval(e, series, t)? {
            Value::Scalar(v) => Value::Scalar(-v),
            Value::Vector(items) => Value::Vector(
                items
                    .into_iter()
                    .map(|(l, v)| (without_name(&l), -v))
                    .collect(),
            ),
            Value::Matrix(_) => {
                return Err(QueryError::Execution("negation of a range vector".into()));
            }
        },
        Expr::Binary { op, lhs, rhs } => binary(*op, eval(lhs, series, t)?, eval(rhs, series, t)?)?,
    })
}

fn apply_func(func: Func, samples: &[(i64, f64)], from: i64, to: i64) -> Option<f64> {
    let values = samples.iter().map(|&(_, v)| v);
    let n = samples.len();
    if n == 0 {
        return None;
    }
    Some(match func {
        Func::Rate => extrapolated_delta(samples, from, to, true)?,
        Func::Increase => extrapolated_delta(samples, from, to, false)?,
        Func::SumOverTime => values.sum(),
        Func::AvgOverTime => values.sum::<f64>() / n as f64,
        Func::CountOverTime => n as f64,
        Func::MinOverTime => values.fold(f64::INFINITY, f64::min),
        Func::MaxOverTime => values.fold(f64::NEG_INFINITY, f64::max),
        Func::LastOverTime => samples[n - 1].1,
    })
}

/// Prometheus' `extrapolatedRate` for counters: the increase between the first and last
/// sample (corrected for resets), extrapolated towards the window edges when the
/// samples stop short of them, so results match a real server's.
fn extrapolated_delta(samples: &[(i64, f64)], from: i64, to: i64, per_second: bool) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (first_t, first_v) = samples[0];
    let (last_t, last_v) = samples[samples.len() - 1];
    let mut delta = last_v - first_v;
    for w in samples.windows(2) {
        if w[1].1 < w[0].1 {
            delta += w[0].1;
        }
    }
    let secs = |ms: i64| ms as f64 / 1000.0;
    let sampled = secs(last_t - first_t);
    let mut to_start = secs(first_t - from);
    let to_end = secs(to - last_t);
    let average_gap = sampled / (samples.len() - 1) as f64;
    if delta > 0.0 && first_v >= 0.0 {
        // A counter cannot go below zero, so do not extrapolate past where it would.
        to_start = to_start.min(sampled * (first_v / delta));
    }
    let threshold = average_gap * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        average_gap / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        average_gap / 2.0
    };
    let mut result = delta * (interval / sampled);
    if per_second {
        result /= secs(to - from);
    }
    Some(result)
}

fn aggregate(op: AggOp, by: &[String], items: Vec<(Labels, f64)>) -> Vec<(Labels, f64)> {
    let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
    for (labels, v) in items {
        let key: Labels = by
            .iter()
            .filter_map(|l| {
                labels
                    .get(l)
                    .filter(|v| !v.is_empty())
                    .map(|v| (l.clone(), v.clone()))
            })
            .collect();
        groups.entry(key).or_default().push(v);
    }
    groups
        .into_iter()
        .map(|(labels, vs)| {
            let n = vs.len() as f64;
            let v = match op {
                AggOp::Sum => vs.iter().sum(),
                AggOp::Avg => vs.iter().sum::<f64>() / n,
                AggOp::Min => vs.iter().copied().fold(f64::INFINITY, f64::min),
                AggOp::Max => vs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                AggOp::Count => n,
            };
            (labels, v)
        })
        .collect()
}

fn binary(op: BinOp, lhs: Value, rhs: Value) -> Result<Value, QueryError> {
    Ok(match (lhs, rhs) {
        (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(op.apply(a, b)),
        (Value::Scalar(a), Value::Vector(items)) => Value::Vector(
            items
                .into_iter()
                .map(|(l, b)| (without_name(&l), op.apply(a, b)))
                .collect(),
        ),
        (Value::Vector(items), Value::Scalar(b)) => Value::Vector(
            items
                .into_iter()
                .map(|(l, a)| (without_name(&l), op.apply(a, b)))
                .collect(),
        ),
        (Value::Vector(l), Value::Vector(r)) => Value::Vector(match_one_to_one(op, l, r)?),
        _ => {
            return Err(QueryError::Execution(
                "binary operation on a range vector".into(),
            ));
        }
    })
}

/// One-to-one vector matching on every label but `__name__`, as without `on`/`ignoring`.
fn match_one_to_one(
    op: BinOp,
    lhs: Vec<(Labels, f64)>,
    rhs: Vec<(Labels, f64)>,
) -> Result<Vec<(Labels, f64)>, QueryError> {
    let mut right: BTreeMap<Labels, f64> = BTreeMap::new();
    for (l, v) in rhs {
        let sig = without_name(&l);
        if right.insert(sig.clone(), v).is_some() {
            return Err(QueryError::Execution(format!(
                "found duplicate series for the match group {} on the right hand-side of the \
                 operation; many-to-many matching not allowed: matching labels must be unique on \
                 one side",
                format_labels(&sig)
            )));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (l, a) in lhs {
        let sig = without_name(&l);
        let Some(&b) = right.get(&sig) else { continue };
        if !seen.insert(sig.clone()) {
            return Err(QueryError::Execution(format!(
                "multiple matches for labels {}: many-to-one matching must be explicit \
                 (group_left/group_right)",
                format_labels(&sig)
            )));
        }
        out.push((sig, op.apply(a, b)));
    }
    Ok(out)
}

fn format_labels(l: &Labels) -> String {
    let parts: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gauge with value `f(t)` every `iv` ms from 0 to `last`.
    fn gauge(labels: &[(&str, &str)], iv: i64, last: i64, f: fn(i64) -> Option<f64>) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            interval_ms: iv,
            first_ms: 0,
            totals: None,
            last_ms: last,
            value: Arc::new(f),
        }
    }

    struct Mem(Vec<Series>);

    impl Storage for Mem {
        fn select(&self, matchers: &[Matcher]) -> Vec<Series> {
            self.0
                .iter()
                .filter(|s| matchers.iter().all(|m| m.matches_labels(&s.labels)))
                .cloned()
                .collect()
        }
    }

    fn store() -> Mem {
        let hour = 3_600_000;
        Mem(vec![
            gauge(&[("__name__", "up"), ("job", "a")], 60_000, hour, |_| {
                Some(1.0)
            }),
            gauge(&[("__name__", "up"), ("job", "b")], 60_000, hour, |t| {
                (t % 600_000 != 0).then_some(0.0)
            }),
            // A counter growing by 2 per second.
            gauge(
                &[("__name__", "ctr_total"), ("job", "a")],
                30_000,
                hour,
                |t| Some(t as f64 / 500.0),
            ),
        ])
    }

    fn instant(q: &str, t: i64) -> Value {
        eval_instant(&parse(q).unwrap(), &store(), t).unwrap()
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("30d"), Ok(2_592_000_000));
        assert_eq!(parse_duration("1s500ms"), Ok(1_500));
        assert!(parse_duration("30m1h").is_err());
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn range_windows_include_both_ends_and_count_exactly() {
        // 10m window at 60s interval: 11 samples, one of which (t=600000) is missing for b.
        let v = instant("count_over_time(up[10m])", 1_200_000);
        let Value::Vector(items) = v else { panic!() };
        assert_eq!(
            items.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            [11.0, 9.0]
        );
        assert!(items.iter().all(|(l, _)| !l.contains_key("__name__")));
    }

    #[test]
    fn rate_of_a_steady_counter_is_exact() {
        let Value::Vector(items) = instant("rate(ctr_total[5m])", 1_800_000) else {
            panic!()
        };
        assert_eq!(items.len(), 1);
        assert!((items[0].1 - 2.0).abs() < 1e-9, "{}", items[0].1);
        let Value::Vector(items) = instant("increase(ctr_total[5m])", 1_800_000) else {
            panic!()
        };
        assert!((items[0].1 - 600.0).abs() < 1e-6, "{}", items[0].1);
    }

    #[test]
    fn aggregation_groups_and_binary_ops_match() {
        let Value::Vector(items) = instant("sum by (job) (up)", 1_260_000) else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        let Value::Vector(items) = instant("sum(up) by (job)", 1_260_000) else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        let Value::Vector(items) = instant("count(up)", 1_260_000) else {
            panic!()
        };
        assert_eq!(items, vec![(Labels::new(), 2.0)]);
        let Value::Vector(items) = instant("1 - up{job=\"b\"}", 1_260_000) else {
            panic!()
        };
        assert_eq!(items[0].1, 1.0);
        let Value::Vector(items) = instant("up - up", 1_260_000) else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        assert_eq!(instant("2 * (3 - 1)", 0), Value::Scalar(4.0));
    }

    #[test]
    fn lookback_finds_the_latest_sample_within_five_minutes() {
        // b's sample at 600000 is missing: at 600000 the latest is 540000.
        let Value::Vector(items) = instant("up{job=\"b\"}", 600_000) else {
            panic!()
        };
        assert_eq!(items.len(), 1);
        let Value::Vector(items) = instant("up{job=~\"a|b\"}", 7_200_000) else {
            panic!()
        };
        assert!(items.is_empty(), "beyond the last sample plus lookback");
    }

    #[test]
    fn range_query_rejects_range_vectors() {
        let e = eval_range(&parse("up[5m]").unwrap(), &store(), 0, 60_000, 60_000).unwrap_err();
        assert!(matches!(e, QueryError::BadData(m) if m.contains("range vector")));
    }

    #[test]
    fn unsupported_and_malformed_queries_are_bad_data() {
        for q in [
            "",
            "rate(up)",
            "sum(up[5m])",
            "irate(up[5m])",
            "topk(3, up)",
            "up offset 5m",
            "up{job=\"a\"",
            "up > 1",
            "{job=~\".*\"}",
            "sum without (job) (up)",
            "(up)[5m:1m]",
            "up[5x]",
        ] {
            match parse(q) {
                Err(QueryError::BadData(m)) => assert!(m.contains("parse error"), "{q}: {m}"),
                other => panic!("{q}: {other:?}"),
            }
        }
    }

    #[test]
    fn duplicate_right_hand_series_is_an_execution_error() {
        let e = eval_instant(&parse("up - sum(up)").unwrap(), &store(), 1_260_000);
        assert_eq!(
            e,
            Ok(Value::Vector(vec![])),
            "no match is an empty result, not an error"
        );
        let mem = Mem(vec![
            gauge(&[("__name__", "x"), ("a", "1")], 60_000, 600_000, |_| {
                Some(1.0)
            }),
            gauge(&[("__name__", "y"), ("a", "1")], 60_000, 600_000, |_| {
                Some(1.0)
            }),
        ]);
        let e = eval_instant(&parse("x - {a=\"1\"}").unwrap(), &mem, 600_000).unwrap_err();
        assert!(matches!(e, QueryError::Execution(_)), "{e:?}");
    }
}

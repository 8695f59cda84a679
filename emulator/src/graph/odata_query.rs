//! Reading the OData query options of a message list: `$select`, `$top`,
//! `$skip`, `$orderby` and `$filter`. What is refused is refused as Graph
//! refuses it: a filter that does not parse is `BadRequest` "Invalid filter
//! clause" (Graph's OData layer), one that parses but uses a function the
//! emulator does not evaluate is Exchange's `ErrorInvalidUrlQueryFilter`.
//! The messages themselves are plain JSON here: this module knows the
//! property names, not where the messages come from.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The message properties the emulator returns (and so `$select`).
pub(crate) const PROPERTIES: &[&str] = &[
    "id",
    "internetMessageId",
    "subject",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "sentDateTime",
    "receivedDateTime",
    "createdDateTime",
    "lastModifiedDateTime",
    "isDraft",
    "isRead",
    "importance",
    "body",
    "bodyPreview",
    "uniqueBody",
    "hasAttachments",
    "parentFolderId",
    "internetMessageHeaders",
];

/// Graph's page size for messages when `$top` is not given.
const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 1000;

/// A refusal: Graph's error code and a message naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub code: &'static str,
    pub message: String,
}

fn bad_request(message: String) -> QueryError {
    QueryError {
        code: "BadRequest",
        message,
    }
}

fn no_such_property(name: &str) -> QueryError {
    bad_request(format!(
        "Could not find a property named '{name}' on type 'microsoft.graph.message'."
    ))
}

/// The query options of one request.
#[derive(Debug)]
pub(crate) struct Query {
    pub filter: Option<Filter>,
    pub select: Option<Vec<&'static str>>,
    pub top: usize,
    pub skip: usize,
    /// Sort keys, first first; empty means Graph's default (newest received first).
    pub orderby: Vec<(SortKey, bool)>,
    /// `$count=true`: the answer carries `@odata.count`, all that match.
    pub count: bool,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Result<Query, QueryError> {
        let mut out = Query {
            filter: None,
            select: None,
            top: DEFAULT_TOP,
            skip: 0,
            orderby: Vec::new(),
            count: false,
        };
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match key.trim_start_matches('$').to_ascii_lowercase().as_str() {
                "filter" => out.filter = Some(Filter::parse(&value)?),
                "select" => out.select = Some(parse_select(&value)?),
                "top" => {
                    out.top = value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_TOP).contains(n))
                        .ok_or_else(|| {
                            bad_request(format!(
                                "Invalid value '{value}' for $top: give 1 to {MAX_TOP}."
                            ))
                        })?;
                }
                "skip" => {
                    out.skip = value.trim().parse::<usize>().map_err(|_| {
                        bad_request(format!(
                            "Invalid value '{value}' for $skip: give a whole number, 0 or more."
                        ))
                    })?;
                }
                "orderby" => out.orderby = parse_orderby(&value)?,
                "count" => {
                    out.count = match value.trim().to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(bad_request(format!(
                                "Invalid value '{value}' for $count: give true or false."
                            )));
                        }
                    };
                }
                // Graph supports these; answering as if they were absent
                // would hand a test the wrong messages without a word.
                "search" | "expand" | "apply" | "compute" => {
                    return Err(QueryError {
                        code: "ErrorInvalidUrlQuery",
                        message: format!(
                            "The query parameter '{key}' is not supported by this emulator."
                        ),
                    });
                }
                _ => {}
            }
        }
        if let Some(filter) = &out.filter {
            check_sort_leads_filter(&out.orderby, filter)?;
        }
        Ok(out)
    }

    pub fn matches(&self, message: &Value) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(message))
    }

    /// Sorts by `$orderby`, or newest received first.
    pub fn sort(&self, messages: &mut [Value]) {
        let default = [(SortKey::ReceivedDateTime, true)];
        let keys: &[(SortKey, bool)] = if self.orderby.is_empty() {
            &default
        } else {
            &self.orderby
        };
        messages.sort_by(|a, b| {
            keys.iter()
                .map(|(key, descending)| {
                    let order = key.compare(a, b);
                    if *descending { order.reverse() } else { order }
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
    }

    /// `$select`; `id` always stays, as on Graph.
    pub fn project(&self, mut message: serde_json::Map<String, Value>) -> Value {
        if let Some(select) = &self.select {
            message.retain(|k, _| k == "id" || k.starts_with('@') || select.contains(&k.as_str()));
        }
        Value::Object(message)
    }
}

fn parse_select(value: &str) -> Result<Vec<&'static str>, QueryError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| canonical(name).ok_or_else(|| no_such_property(name)))
        .collect()
}

/// A property name as Graph spells it (requests may use any case).
pub(crate) fn canonical(name: &str) -> Option<&'static str> {
    PROPERTIES
        .iter()
        .find(|p| p.eq_ignore_ascii_case(name))
        .copied()
}

/// What `$orderby` can sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortKey {
    ReceivedDateTime,
    SentDateTime,
    Subject,
}

impl SortKey {
    fn compare(self, a: &Value, b: &Value) -> Ordering {
        match self {
            SortKey::ReceivedDateTime => {
                date_at(a, "receivedDateTime").cmp(&date_at(b, "receivedDateTime"))
            }
            SortKey::SentDateTime => date_at(a, "sentDateTime").cmp(&date_at(b, "sentDateTime")),
            SortKey::Subject => text_at(a, "subject").cmp(&text_at(b, "subject")),
        }
    }
}

fn parse_orderby(value: &str) -> Result<Vec<(SortKey, bool)>, QueryError> {
    let mut keys = Vec::new();
    for clause in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let mut words = clause.split_whitespace();
        let name = words.next().unwrap_or("");
        let key = match name.to_ascii_lowercase().as_str() {
            "receiveddatetime" => SortKey::ReceivedDateTime,
            "sentdatetime" => SortKey::SentDateTime,
            "subject" => SortKey::Subject,
            _ if canonical(name).is_some() => {
                return Err(bad_request(format!(
                    "$orderby on '{name}' is not supported by this emulator: give receivedDateTime, sentDateTime or subject."
                )));
            }
            _ => return Err(no_such_property(name)),
        };
        let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(bad_request(format!(
                    "Invalid $orderby direction '{other}' after '{name}': give asc or desc."
                )));
            }
        };
        if let Some(extra) = words.next() {
            return Err(bad_request(format!(
                "Invalid $orderby clause '{clause}': unexpected '{extra}'."
            )));
        }
        keys.push((key, descending));
    }
    Ok(keys)
}

/// Exchange sorts a filtered list only when the `$orderby` properties are
/// the first ones `$filter` names, in the same order (Graph's list messages
/// reference, "Using filter and orderby in the same query").
fn check_sort_leads_filter(orderby: &[(SortKey, bool)], filter: &Filter) -> Result<(), QueryError> {
    let mut named = Vec::new();
    filter.properties(&mut named);
    named.dedup();
    let leads = orderby.iter().enumerate().all(|(i, (key, _))| {
        named.get(i)
            == Some(&match key {
                SortKey::ReceivedDateTime => FilterProperty::ReceivedDateTime,
                SortKey::SentDateTime => FilterProperty::SentDateTime,
                SortKey::Subject => FilterProperty::Subject,
            })
    });
    if leads {
        Ok(())
    } else {
        Err(QueryError {
            code: "InefficientFilter",
            message: "The restriction or sort order is too complex for this operation.".into(),
        })
    }
}

/// A property `$filter` can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterProperty {
    InternetMessageId,
    Subject,
    FromAddress,
    ReceivedDateTime,
    SentDateTime,
    HasAttachments,
    IsRead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    DateTimeOffset,
    Boolean,
}

impl Kind {
    fn edm(self) -> &'static str {
        match self {
            Kind::String => "Edm.String",
            Kind::DateTimeOffset => "Edm.DateTimeOffset",
            Kind::Boolean => "Edm.Boolean",
        }
    }
}

impl FilterProperty {
    fn read(path: &str) -> Result<FilterProperty, QueryError> {
        Ok(match path.to_ascii_lowercase().as_str() {
            "internetmessageid" => FilterProperty::InternetMessageId,
            "subject" => FilterProperty::Subject,
            "from/emailaddress/address" => FilterProperty::FromAddress,
            "receiveddatetime" => FilterProperty::ReceivedDateTime,
            "sentdatetime" => FilterProperty::SentDateTime,
            "hasattachments" => FilterProperty::HasAttachments,
            "isread" => FilterProperty::IsRead,
            _ => {
                let first = path.split('/').next().unwrap_or(path);
                return Err(if canonical(first).is_some() {
                    QueryError {
                        code: "ErrorInvalidUrlQueryFilter",
                        message: format!(
                            "The query filter contains one or more invalid nodes: this emulator filters on internetMessageId, subject, from/emailAddress/address, receivedDateTime, sentDateTime, hasAttachments and isRead, not '{path}'."
                        ),
                    }
                } else {
                    no_such_property(first)
                });
            }
        })
    }

    fn kind(self) -> Kind {
        match self {
            FilterProperty::InternetMessageId
            | FilterProperty::Subject
            | FilterProperty::FromAddress => Kind::String,
            FilterProperty::ReceivedDateTime | FilterProperty::SentDateTime => Kind::DateTimeOffset,
            FilterProperty::HasAttachments | FilterProperty::IsRead => Kind::Boolean,
        }
    }

    fn value_in(self, message: &Value) -> Option<Literal> {
        match self {
            FilterProperty::InternetMessageId => {
                text_at(message, "internetMessageId").map(Literal::Text)
            }
            FilterProperty::Subject => text_at(message, "subject").map(Literal::Text),
            FilterProperty::FromAddress => message
                .get("from")
                .and_then(|f| f.get("emailAddress"))
                .and_then(|e| e.get("address"))
                .and_then(Value::as_str)
                .map(|s| Literal::Text(s.to_owned())),
            FilterProperty::ReceivedDateTime => {
                date_at(message, "receivedDateTime").map(Literal::Date)
            }
            FilterProperty::SentDateTime => date_at(message, "sentDateTime").map(Literal::Date),
            FilterProperty::HasAttachments => message
                .get("hasAttachments")
                .and_then(Value::as_bool)
                .map(Literal::Bool),
            FilterProperty::IsRead => message
                .get("isRead")
                .and_then(Value::as_bool)
                .map(Literal::Bool),
        }
    }
}

fn text_at(message: &Value, name: &str) -> Option<String> {
    message.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn date_at(message: &Value, name: &str) -> Option<OffsetDateTime> {
    message
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Text(String),
    Date(OffsetDateTime),
    Bool(bool),
    Null,
}

impl Literal {
    fn kind(&self) -> Option<Kind> {
        match self {
            Literal::Text(_) => Some(Kind::String),
            Literal::Date(_) => Some(Kind::DateTimeOffset),
            Literal::Bool(_) => Some(Kind::Boolean),
            Literal::Null => None,
        }
    }

    /// Exchange compares text case-insensitively.
    fn compare(&self, other: &Literal) -> Option<Ordering> {
        match (self, other) {
            (Literal::Text(a), Literal::Text(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
            (Literal::Date(a), Literal::Date(b)) => Some(a.cmp(b)),
            (Literal::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Operator {
    fn read(word: &str) -> Option<Operator> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Operator::Eq,
            "ne" => Operator::Ne,
            "gt" => Operator::Gt,
            "ge" => Operator::Ge,
            "lt" => Operator::Lt,
            "le" => Operator::Le,
            _ => return None,
        })
    }

    /// OData's name for the operator, as its type errors quote it.
    fn kind_name(self) -> &'static str {
        match self {
            Operator::Eq => "Equal",
            Operator::Ne => "NotEqual",
            Operator::Gt => "GreaterThan",
            Operator::Ge => "GreaterThanOrEqual",
            Operator::Lt => "LessThan",
            Operator::Le => "LessThanOrEqual",
        }
    }

    fn holds(self, order: Ordering) -> bool {
        match self {
            Operator::Eq => order.is_eq(),
            Operator::Ne => order.is_ne(),
            Operator::Gt => order.is_gt(),
            Operator::Ge => order.is_ge(),
            Operator::Lt => order.is_lt(),
            Operator::Le => order.is_le(),
        }
    }
}

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    Compare(FilterProperty, Operator, Literal),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, QueryError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens: &tokens,
            at: 0,
            text,
        };
        let filter = parser.or()?;
        match parser.peek() {
            None => Ok(filter),
            Some(token) => Err(parser.invalid(&format!("unexpected '{}'", token.show()))),
        }
    }

    /// The properties named, left to right.
    fn properties(&self, out: &mut Vec<FilterProperty>) {
        match self {
            Filter::Compare(property, _, _) => out.push(*property),
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.properties(out);
                b.properties(out);
            }
            Filter::Not(a) => a.properties(out),
        }
    }

    pub fn matches(&self, message: &Value) -> bool {
        match self {
            Filter::Compare(property, op, literal) => match (property.value_in(message), literal) {
                (None, Literal::Null) => *op == Operator::Eq,
                (Some(_), Literal::Null) => *op == Operator::Ne,
                (None, _) => *op == Operator::Ne,
                (Some(value), literal) => {
                    value.compare(literal).is_some_and(|order| op.holds(order))
                }
            },
            Filter::And(a, b) => a.matches(message) && b.matches(message),
            Filter::Or(a, b) => a.matches(message) || b.matches(message),
            Filter::Not(a) => !a.matches(message),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Comma,
    Quoted(String),
    Word(String),
}

impl Token {
    fn show(&self) -> String {
        match self {
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
            Token::Quoted(s) => format!("'{}'", s.replace('\'', "''")),
            Token::Word(w) => w.clone(),
        }
    }
}

fn invalid_clause(text: &str, why: &str) -> QueryError {
    bad_request(format!("Invalid filter clause: {why} in '{text}'."))
}

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        // A quote inside the value is doubled, as OData writes it.
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => value.push(c),
                        None => return Err(invalid_clause(text, "a quoted value is not closed")),
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | ',' | '\'') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    if tokens.is_empty() {
        return Err(invalid_clause(text, "the filter is empty"));
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn invalid(&self, why: &str) -> QueryError {
        invalid_clause(self.text, why)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter, QueryError> {
        let mut left = self.and()?;
        while self.is_word("or") {
            self.at += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, QueryError> {
        let mut left = self.unary()?;
        while self.is_word("and") {
            self.at += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, QueryError> {
        if self.is_word("not") {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                _ => Err(self.invalid("a '(' is not closed")),
            };
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Filter, QueryError> {
        let path = match self.next() {
            Some(Token::Word(w)) => w,
            Some(other) => {
                let shown = other.show();
                return Err(self.invalid(&format!("expected a property name, found '{shown}'")));
            }
            None => return Err(self.invalid("expected a property name at the end")),
        };
        if self.peek() == Some(&Token::Open) {
            return Err(QueryError {
                code: "ErrorInvalidUrlQueryFilter",
                message: format!(
                    "The query filter contains one or more invalid nodes: this emulator does not evaluate the function '{path}'."
                ),
            });
        }
        let property = FilterProperty::read(&path)?;
        let op = match self.next() {
            Some(Token::Word(w)) => Operator::read(&w).ok_or_else(|| {
                format!("'{w}' after '{path}' is not an operator (eq, ne, gt, ge, lt, le)")
            }),
            Some(other) => Err(format!(
                "expected an operator after '{path}', found '{}'",
                other.show()
            )),
            None => Err(format!("expected an operator after '{path}'")),
        }
        .map_err(|why| self.invalid(&why))?;
        let literal = match self.next() {
            Some(Token::Quoted(s)) => Literal::Text(s),
            Some(Token::Word(w)) => read_bare_literal(&w)
                .ok_or_else(|| self.invalid(&format!("'{w}' is not a value (a quoted string, true, false, null or a DateTimeOffset such as 2026-01-31T00:00:00Z)")))?,
            Some(other) => {
                let shown = other.show();
                return Err(self.invalid(&format!("expected a value after '{path}', found '{shown}'")));
            }
            None => return Err(self.invalid(&format!("expected a value after '{path}'"))),
        };
        if let Some(kind) = literal.kind()
            && kind != property.kind()
        {
            return Err(bad_request(format!(
                "A binary operator with incompatible types was detected. Found operand types '{}' and '{}' for operator kind '{}' (property '{path}').",
                property.kind().edm(),
                kind.edm(),
                op.kind_name()
            )));
        }
        Ok(Filter::Compare(property, op, literal))
    }
}

fn read_bare_literal(word: &str) -> Option<Literal> {
    match word.to_ascii_lowercase().as_str() {
        "true" => Some(Literal::Bool(true)),
        "false" => Some(Literal::Bool(false)),
        "null" => Some(Literal::Null),
        _ => OffsetDateTime::parse(word, &Rfc3339)
            .ok()
            .map(Literal::Date),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message() -> Value {
        json!({
            "internetMessageId": "<a@b>",
            "subject": "Invoice 7",
            "from": {"emailAddress": {"address": "erp@contoso.test"}},
            "receivedDateTime": "2026-12-04T10:00:00Z",
            "sentDateTime": "2026-12-04T10:00:00Z",
            "hasAttachments": true,
            "isRead": false,
        })
    }

    fn holds(filter: &str) -> bool {
        Filter::parse(filter).unwrap().matches(&message())
    }

    #[test]
    fn comparisons_and_logic_are_evaluated() {
        assert!(holds("internetMessageId eq '<a@b>'"));
        assert!(holds("InternetMessageId  EQ  '<A@B>'"));
        assert!(!holds("subject ne 'invoice 7'"));
        assert!(holds(
            "receivedDateTime ge 2026-12-04T10:00:00Z and receivedDateTime lt 2026-12-05T00:00:00Z"
        ));
        assert!(!holds("receivedDateTime gt 2026-12-04T10:00:00Z"));
        assert!(holds(
            "(isRead eq true) or (hasAttachments eq true and from/emailAddress/address eq 'ERP@contoso.test')"
        ));
        assert!(!holds("isRead eq true or hasAttachments eq false"));
        assert!(holds("not (isRead eq true)"));
        assert!(holds("subject eq 'it''s' or subject le 'J'"));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // false and false or true: true only when `and` is applied first.
        assert!(holds(
            "isRead eq true and isRead eq true or hasAttachments eq true"
        ));
        assert!(!holds(
            "hasAttachments eq true and isRead eq true or isRead eq true"
        ));
    }

    #[test]
    fn what_does_not_read_is_refused_naming_it() {
        let err = Filter::parse("subject eq").unwrap_err();
        assert_eq!(err.code, "BadRequest");
        assert!(
            err.message.contains("Invalid filter clause"),
            "{}",
            err.message
        );
        let err = Filter::parse("subject eq 'open").unwrap_err();
        assert!(err.message.contains("not closed"), "{}", err.message);
        let err = Filter::parse("nosuch eq 'x'").unwrap_err();
        assert!(err.message.contains("'nosuch'"), "{}", err.message);
        let err = Filter::parse("importance eq 'high'").unwrap_err();
        assert_eq!(err.code, "ErrorInvalidUrlQueryFilter");
        let err = Filter::parse("startswith(subject,'x')").unwrap_err();
        assert_eq!(err.code, "ErrorInvalidUrlQueryFilter");
        let err = Filter::parse("receivedDateTime ge '2026-01-01T00:00:00Z'").unwrap_err();
        assert!(
            err.message.contains("Edm.DateTimeOffset"),
            "{}",
            err.message
        );
        let err = Filter::parse("isRead eq 'true'").unwrap_err();
        assert!(
            err.message.contains("incompatible types"),
            "{}",
            err.message
        );
        assert!(Filter::parse("subject xx 'a'").is_err());
        assert!(Filter::parse("(subject eq 'a'").is_err());
        assert!(Filter::parse("subject eq 'a' subject").is_err());
    }

    #[test]
    fn orderby_and_paging_options_are_read() {
        let q = Query::parse(Some("$orderby=subject%20desc,sentDateTime&$top=5&$skip=10")).unwrap();
        assert_eq!(
            q.orderby,
            vec![(SortKey::Subject, true), (SortKey::SentDateTime, false)]
        );
        assert_eq!((q.top, q.skip), (5, 10));
        assert!(Query::parse(Some("$orderby=subject sideways")).is_err());
        assert!(Query::parse(Some("$orderby=importance")).is_err());
        assert!(Query::parse(Some("$top=0")).is_err());
        assert!(Query::parse(Some("$skip=-1")).is_err());
        assert!(Query::parse(Some("$select=subject,nosuch")).is_err());
        assert_eq!(Query::parse(None).unwrap().top, 10);
    }

    #[test]
    fn a_sorted_filter_must_name_the_sort_properties_first() {
        let parse = |q: &str| Query::parse(Some(q)).map(|_| ()).map_err(|e| e.code);
        let filter =
            |f: &str| url::form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>();
        let ok = format!(
            "$orderby=receivedDateTime desc&$filter={}",
            filter("receivedDateTime ge 2026-01-01T00:00:00Z and subject eq 'a'")
        );
        assert_eq!(parse(&ok), Ok(()));
        let two = format!(
            "$orderby=subject,receivedDateTime&$filter={}",
            filter("subject ne 'x' and receivedDateTime ge 2026-01-01T00:00:00Z")
        );
        assert_eq!(parse(&two), Ok(()));
        let late = format!(
            "$orderby=receivedDateTime&$filter={}",
            filter("subject eq 'a' and receivedDateTime ge 2026-01-01T00:00:00Z")
        );
        assert_eq!(parse(&late), Err("InefficientFilter"));
        let absent = format!(
            "$orderby=sentDateTime&$filter={}",
            filter("isRead eq false")
        );
        assert_eq!(parse(&absent), Err("InefficientFilter"));
        assert_eq!(
            parse(&format!("$filter={}", filter("isRead eq false"))),
            Ok(())
        );
    }
}

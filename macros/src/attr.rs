//! Parsing `#[actor(..)]`, `#[remote_method(..)]` and `#[remote(..)]` into typed options that
//! keep their spans.
//!
//! Grammar: a comma-separated list of `key = value` or bare `key` (flags). Values are integer,
//! float, string or bool literals, or for `concurrency_groups` and `resources` a brace list
//! `{ io = 2, compute = 4 }`.

use proc_macro2::{Span, TokenStream};
use syn::{
    Expr, ExprLit, ExprUnary, Ident, Lit, LitBool, LitInt, LitStr, Token, UnOp, braced,
    ext::IdentExt,
    parse::{Parse, ParseStream, Parser},
    punctuated::Punctuated,
    spanned::Spanned as _,
};

use crate::{ctxt::Ctxt, suggest::closest};

/// One `key = value` (or bare `key`) as written.
struct RawOption {
    key: Ident,
    value: Option<RawValue>,
}

enum RawValue {
    Expr(Expr),
    Groups(Punctuated<RawGroup, Token![,]>, Span),
}

struct RawGroup {
    name: Ident,
    size: Expr,
}

impl Parse for RawOption {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key = Ident::parse_any(input)?;
        if !input.peek(Token![=]) {
            return Ok(RawOption { key, value: None });
        }
        input.parse::<Token![=]>()?;
        let value = if input.peek(syn::token::Brace) {
            let content;
            let brace = braced!(content in input);
            let groups = content.parse_terminated(RawGroup::parse, Token![,])?;
            RawValue::Groups(groups, brace.span.join())
        } else {
            RawValue::Expr(input.parse()?)
        };
        Ok(RawOption {
            key,
            value: Some(value),
        })
    }
}

impl Parse for RawGroup {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = Ident::parse_any(input)?;
        input.parse::<Token![=]>()?;
        Ok(RawGroup {
            name,
            size: input.parse()?,
        })
    }
}

/// A value with the span of the tokens it came from.
#[derive(Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// The options of `#[actor(..)]`.
#[derive(Default)]
pub(crate) struct ActorAttr {
    pub(crate) name: Option<LitStr>,
    pub(crate) namespace: Option<LitStr>,
    pub(crate) max_restarts: Option<Spanned<i64>>,
    pub(crate) max_task_retries: Option<Spanned<i64>>,
    pub(crate) max_pending_calls: Option<Spanned<i64>>,
    pub(crate) max_concurrency: Option<Spanned<u64>>,
    pub(crate) concurrency_groups: Option<Vec<(Ident, Spanned<u64>)>>,
    pub(crate) detached: Option<Spanned<bool>>,
    pub(crate) get_if_exists: Option<LitBool>,
    pub(crate) resources: ResourceAttr,
}

const ACTOR_OPTIONS: &[&str] = &[
    "name",
    "namespace",
    "max_restarts",
    "max_task_retries",
    "max_pending_calls",
    "max_concurrency",
    "concurrency_groups",
    "lifetime",
    "get_if_exists",
    "num_cpus",
    "num_gpus",
    "resources",
];

/// The options of one `#[remote_method(..)]`.
#[derive(Default)]
pub(crate) struct MethodAttr {
    pub(crate) concurrency_group: Option<LitStr>,
    pub(crate) max_task_retries: Option<Spanned<i64>>,
    pub(crate) blocking: Option<Span>,
    pub(crate) stream_buffer: Option<Spanned<u64>>,
}

const METHOD_OPTIONS: &[&str] = &[
    "concurrency_group",
    "max_task_retries",
    "blocking",
    "stream_buffer",
];

/// The options of `#[remote(..)]` on a fn.
#[derive(Default)]
pub(crate) struct TaskAttr {
    pub(crate) max_retries: Option<Spanned<i64>>,
    pub(crate) retry_on_panic: Option<LitBool>,
    pub(crate) resources: ResourceAttr,
    pub(crate) name: Option<LitStr>,
}

const TASK_OPTIONS: &[&str] = &[
    "max_retries",
    "retry_on_panic",
    "num_cpus",
    "num_gpus",
    "resources",
    "name",
];

impl TaskAttr {
    pub(crate) fn parse(tokens: TokenStream, cx: &mut Ctxt) -> Self {
        let mut attr = TaskAttr::default();
        for option in parse_options(tokens, cx) {
            let key = &option.key;
            match key.unraw().to_string().as_str() {
                "max_retries" if !duplicate(cx, key, &attr.max_retries) => {
                    attr.max_retries = unlimited_or_at_least(cx, &option, 0, "retry forever");
                }
                "retry_on_panic" if !duplicate(cx, key, &attr.retry_on_panic) => {
                    attr.retry_on_panic = boolean(cx, &option);
                }
                "num_cpus" | "num_gpus" | "resources" => attr.resources.parse(cx, &option),
                "name" if !duplicate(cx, key, &attr.name) => attr.name = string(cx, &option),
                known if TASK_OPTIONS.contains(&known) => {}
                _ => unknown(cx, key, "remote", TASK_OPTIONS),
            }
        }
        attr
    }
}

/// `num_cpus`, `num_gpus` and `resources = { .. }`, shared by `#[actor]` and `#[remote]`.
#[derive(Default)]
pub(crate) struct ResourceAttr {
    num_cpus: Option<Spanned<f64>>,
    num_gpus: Option<Spanned<f64>>,
    custom: Option<Vec<(Ident, Spanned<f64>)>>,
}

impl ResourceAttr {
    /// Parses `option`, one of `num_cpus`, `num_gpus` or `resources`.
    fn parse(&mut self, cx: &mut Ctxt, option: &RawOption) {
        let key = &option.key;
        let amount_of = |cx: &mut Ctxt| {
            require(cx, option, "an amount such as 1 or 0.5").and_then(|e| amount(cx, key, e))
        };
        match key.unraw().to_string().as_str() {
            "num_cpus" if !duplicate(cx, key, &self.num_cpus) => self.num_cpus = amount_of(cx),
            "num_gpus" if !duplicate(cx, key, &self.num_gpus) => self.num_gpus = amount_of(cx),
            "resources" if !duplicate(cx, key, &self.custom) => {
                self.custom = Some(resources(cx, option));
            }
            _ => {} // a duplicate, reported above
        }
    }

    /// The builder calls that set them: `.num_cpus(1.0).resource("ssd", 1.0)`.
    pub(crate) fn calls(&self) -> TokenStream {
        let mut out = TokenStream::new();
        if let Some(x) = &self.num_cpus {
            let x = x.value;
            out.extend(quote::quote!(.num_cpus(#x)));
        }
        if let Some(x) = &self.num_gpus {
            let x = x.value;
            out.extend(quote::quote!(.num_gpus(#x)));
        }
        for (name, amount) in self.custom.iter().flatten() {
            let (name, x) = (name.unraw().to_string(), amount.value);
            out.extend(quote::quote!(.resource(#name, #x)));
        }
        out
    }
}

/// A resource amount: a non-negative integer or float literal.
fn amount(cx: &mut Ctxt, key: &Ident, expr: &Expr) -> Option<Spanned<f64>> {
    let parsed = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => Some(int.base10_parse::<f64>()),
        Expr::Lit(ExprLit {
            lit: Lit::Float(float),
            ..
        }) => Some(float.base10_parse::<f64>()),
        _ => None,
    };
    match parsed {
        Some(Ok(value)) if value.is_finite() => Some(Spanned {
            value,
            span: expr.span(),
        }),
        Some(Ok(_)) => {
            cx.error(expr, format_args!("`{key}` must be a finite amount"));
            None
        }
        Some(Err(err)) => {
            cx.syn_error(err);
            None
        }
        None => {
            cx.error(
                expr,
                format_args!(
                    "`{key}` takes an amount of at least 0, such as `1` or `0.5`; found {}",
                    describe(expr)
                ),
            );
            None
        }
    }
}

fn resources(cx: &mut Ctxt, option: &RawOption) -> Vec<(Ident, Spanned<f64>)> {
    let Some(entries) = brace_list(
        cx,
        option,
        "`resources` takes a brace list of amounts: `resources = { ssd = 1, fpga = 0.5 }`",
    ) else {
        return Vec::new();
    };
    let mut out: Vec<(Ident, Spanned<f64>)> = Vec::new();
    for entry in entries {
        let name = entry.name.unraw().to_string();
        if name == "CPU" || name == "GPU" {
            cx.error(
                &entry.name,
                format_args!(
                    "ask for {name}s with `num_{}s`, not in `resources`",
                    name.to_lowercase()
                ),
            );
        } else if out.iter().any(|(n, _)| n.unraw() == name) {
            cx.error(
                &entry.name,
                format_args!("resource `{name}` is given twice"),
            );
        } else if let Some(value) = amount(cx, &entry.name, &entry.size) {
            out.push((entry.name.clone(), value));
        }
    }
    out
}

fn parse_options(tokens: TokenStream, cx: &mut Ctxt) -> Vec<RawOption> {
    match Punctuated::<RawOption, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(options) => options.into_iter().collect(),
        Err(err) => {
            cx.syn_error(err);
            Vec::new()
        }
    }
}

fn unknown(cx: &mut Ctxt, key: &Ident, attribute: &str, known: &[&str]) {
    let word = key.unraw().to_string();
    let message = match closest(&word, known) {
        Some(near) => {
            format!("unknown option `{word}` for `#[{attribute}]`: did you mean `{near}`?")
        }
        None => format!(
            "unknown option `{word}` for `#[{attribute}]`; the options are: {}",
            known.join(", ")
        ),
    };
    cx.error(key, message);
}

fn duplicate<T>(cx: &mut Ctxt, key: &Ident, slot: &Option<T>) -> bool {
    if slot.is_some() {
        cx.error(key, format_args!("`{key}` is given twice"));
    }
    slot.is_some()
}

/// What a value is, for "found ..." in messages: `the string "four"`.
fn describe(expr: &Expr) -> String {
    let kind = match expr {
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Str(_) => "the string",
            Lit::Int(_) => "the integer",
            Lit::Bool(_) => "the bool",
            Lit::Float(_) => "the float",
            _ => "the literal",
        },
        Expr::Path(_) => "the path",
        _ => "the expression",
    };
    format!(
        "{kind} `{}`",
        quote::quote!(#expr).to_string().replace(" ", "")
    )
}

/// The value, or an error at `key` when it is missing.
fn require<'a>(cx: &mut Ctxt, option: &'a RawOption, hint: &str) -> Option<&'a Expr> {
    match &option.value {
        Some(RawValue::Expr(expr)) => Some(expr),
        Some(RawValue::Groups(_, span)) => {
            cx.syn_error(syn::Error::new(
                *span,
                format_args!("`{}` takes {hint}", option.key),
            ));
            None
        }
        None => {
            cx.error(
                &option.key,
                format_args!("`{}` takes a value: `{} = {hint}`", option.key, option.key),
            );
            None
        }
    }
}

fn int_of(expr: &Expr) -> Option<syn::Result<i64>> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => Some(int.base10_parse()),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => Some(int.base10_parse::<i64>().map(|n| -n)),
            _ => None,
        },
        _ => None,
    }
}

/// An integer that is `-1` (meaning "unlimited") or at least `min`.
fn unlimited_or_at_least(
    cx: &mut Ctxt,
    option: &RawOption,
    min: i64,
    meaning: &str,
) -> Option<Spanned<i64>> {
    let key = &option.key;
    let hint = format!("-1 ({meaning}) or a count of at least {min}");
    let expects = format!("an integer: -1 ({meaning}) or a count of at least {min}");
    let expr = require(cx, option, &hint)?;
    match int_of(expr) {
        Some(Ok(n)) if n == -1 || n >= min => Some(Spanned {
            value: n,
            span: expr.span(),
        }),
        Some(Ok(n)) => {
            cx.error(expr, format_args!("`{key}` must be {hint}, not {n}"));
            None
        }
        Some(Err(err)) => {
            cx.syn_error(err);
            None
        }
        None => {
            cx.error(
                expr,
                format_args!("`{key}` takes {expects}; found {}", describe(expr)),
            );
            None
        }
    }
}

fn positive(cx: &mut Ctxt, key: &Ident, expr: &Expr) -> Option<Spanned<u64>> {
    let parsed = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => Some(int.base10_parse::<u64>()),
        _ => None,
    };
    match parsed {
        Some(Ok(n)) if n >= 1 => Some(Spanned {
            value: n,
            span: expr.span(),
        }),
        Some(Ok(_)) => {
            cx.error(expr, format_args!("`{key}` must be at least 1"));
            None
        }
        Some(Err(err)) => {
            cx.syn_error(err);
            None
        }
        None => {
            cx.error(
                expr,
                format_args!("`{key}` takes a positive integer; found {}", describe(expr)),
            );
            None
        }
    }
}

fn string(cx: &mut Ctxt, option: &RawOption) -> Option<LitStr> {
    let expr = require(cx, option, "\"...\"")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) if !s.value().is_empty() => Some(s.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            cx.error(s, format_args!("`{}` must not be empty", option.key));
            None
        }
        _ => {
            cx.error(
                expr,
                format_args!(
                    "`{}` takes a string literal; found {}",
                    option.key,
                    describe(expr)
                ),
            );
            None
        }
    }
}

fn boolean(cx: &mut Ctxt, option: &RawOption) -> Option<LitBool> {
    let expr = require(cx, option, "true or false")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Some(b.clone()),
        _ => {
            cx.error(
                expr,
                format_args!(
                    "`{}` takes `true` or `false`; found {}",
                    option.key,
                    describe(expr)
                ),
            );
            None
        }
    }
}

impl ActorAttr {
    pub(crate) fn parse(tokens: TokenStream, cx: &mut Ctxt) -> Self {
        let mut attr = ActorAttr::default();
        for option in parse_options(tokens, cx) {
            let key = &option.key;
            match key.unraw().to_string().as_str() {
                "name" if !duplicate(cx, key, &attr.name) => attr.name = string(cx, &option),
                "namespace" if !duplicate(cx, key, &attr.namespace) => {
                    attr.namespace = string(cx, &option);
                }
                "max_restarts" if !duplicate(cx, key, &attr.max_restarts) => {
                    attr.max_restarts = unlimited_or_at_least(cx, &option, 0, "restart forever");
                }
                "max_task_retries" if !duplicate(cx, key, &attr.max_task_retries) => {
                    attr.max_task_retries = unlimited_or_at_least(cx, &option, 0, "retry forever");
                }
                "max_pending_calls" if !duplicate(cx, key, &attr.max_pending_calls) => {
                    attr.max_pending_calls = unlimited_or_at_least(cx, &option, 1, "unlimited");
                }
                "max_concurrency" if !duplicate(cx, key, &attr.max_concurrency) => {
                    if let Some(expr) = require(cx, &option, "a positive integer") {
                        attr.max_concurrency = positive(cx, key, expr);
                    }
                }
                "concurrency_groups" if !duplicate(cx, key, &attr.concurrency_groups) => {
                    attr.concurrency_groups = Some(groups(cx, &option));
                }
                "lifetime" if !duplicate(cx, key, &attr.detached) => {
                    attr.detached = lifetime(cx, &option);
                }
                "get_if_exists" if !duplicate(cx, key, &attr.get_if_exists) => {
                    attr.get_if_exists = boolean(cx, &option);
                }
                "num_cpus" | "num_gpus" | "resources" => attr.resources.parse(cx, &option),
                known if ACTOR_OPTIONS.contains(&known) => {} // a duplicate, reported above
                _ => unknown(cx, key, "actor", ACTOR_OPTIONS),
            }
        }
        if let (Some(namespace), None) = (&attr.namespace, &attr.name) {
            cx.error(namespace, "a `namespace` needs a `name`");
        }
        attr
    }

    /// The names of the declared groups, in order.
    pub(crate) fn group_names(&self) -> Vec<String> {
        self.concurrency_groups
            .iter()
            .flatten()
            .map(|(name, _)| name.unraw().to_string())
            .collect()
    }
}

/// The entries of a `key = { name = value, .. }` option; an error saying `hint` otherwise.
fn brace_list<'a>(
    cx: &mut Ctxt,
    option: &'a RawOption,
    hint: &str,
) -> Option<&'a Punctuated<RawGroup, Token![,]>> {
    match &option.value {
        Some(RawValue::Groups(entries, _)) => Some(entries),
        other => {
            let span = match other {
                Some(RawValue::Expr(expr)) => expr.span(),
                _ => option.key.span(),
            };
            cx.syn_error(syn::Error::new(span, hint));
            None
        }
    }
}

fn groups(cx: &mut Ctxt, option: &RawOption) -> Vec<(Ident, Spanned<u64>)> {
    let Some(groups) = brace_list(
        cx,
        option,
        "`concurrency_groups` takes a brace list of group sizes: `concurrency_groups = { io = 2, compute = 4 }`",
    ) else {
        return Vec::new();
    };
    let mut out: Vec<(Ident, Spanned<u64>)> = Vec::new();
    for group in groups {
        let name = group.name.unraw().to_string();
        if name == "default" {
            cx.error(
                &group.name,
                "`default` is the implicit group: size it with `max_concurrency`",
            );
        } else if out.iter().any(|(n, _)| n.unraw() == name) {
            cx.error(
                &group.name,
                format_args!("concurrency group `{name}` is declared twice"),
            );
        } else if let Some(size) = positive(cx, &group.name, &group.size) {
            out.push((group.name.clone(), size));
        }
    }
    out
}

fn lifetime(cx: &mut Ctxt, option: &RawOption) -> Option<Spanned<bool>> {
    let s = string(cx, option)?;
    match s.value().as_str() {
        "detached" => Some(Spanned {
            value: true,
            span: s.span(),
        }),
        "non_detached" => Some(Spanned {
            value: false,
            span: s.span(),
        }),
        other => {
            cx.error(
                &s,
                format_args!("`lifetime` is \"detached\" or \"non_detached\", not \"{other}\""),
            );
            None
        }
    }
}

impl MethodAttr {
    /// Parses one `#[remote_method]` or `#[remote_method(..)]`.
    pub(crate) fn parse(attr: &syn::Attribute, cx: &mut Ctxt) -> Self {
        let mut out = MethodAttr::default();
        let tokens = match &attr.meta {
            syn::Meta::Path(_) => return out,
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::NameValue(nv) => {
                cx.error(
                    nv,
                    "write `#[remote_method]` or `#[remote_method(option = value, ..)]`",
                );
                return out;
            }
        };
        for option in parse_options(tokens, cx) {
            let key = &option.key;
            match key.unraw().to_string().as_str() {
                "concurrency_group" if !duplicate(cx, key, &out.concurrency_group) => {
                    out.concurrency_group = string(cx, &option);
                }
                "max_task_retries" if !duplicate(cx, key, &out.max_task_retries) => {
                    out.max_task_retries = unlimited_or_at_least(cx, &option, 0, "retry forever");
                }
                "stream_buffer" if !duplicate(cx, key, &out.stream_buffer) => {
                    if let Some(expr) = require(cx, &option, "a positive integer") {
                        out.stream_buffer = positive(cx, key, expr);
                    }
                }
                "blocking" if !duplicate(cx, key, &out.blocking) => {
                    let on = match &option.value {
                        None => true,
                        Some(_) => boolean(cx, &option).is_some_and(|b| b.value),
                    };
                    if on {
                        out.blocking = Some(key.span());
                    }
                }
                known if METHOD_OPTIONS.contains(&known) => {}
                _ => unknown(cx, key, "remote_method", METHOD_OPTIONS),
            }
        }
        out
    }
}

/// `LitInt` for an `i64`, for generated code.
pub(crate) fn int_literal(n: i64, span: Span) -> TokenStream {
    let lit = LitInt::new(&n.unsigned_abs().to_string(), span);
    if n < 0 {
        quote::quote!(-#lit)
    } else {
        quote::quote!(#lit)
    }
}

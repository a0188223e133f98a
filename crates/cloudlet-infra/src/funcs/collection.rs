//! Collection functions: `length`, `concat`, `merge`, `keys`, `values`,
//! `lookup`, `element`, `index`, `contains`, `distinct`, `flatten`,
//! `slice`, `sort`, `reverse`, `range`, `zipmap`, `compact`, `coalesce`,
//! `coalescelist`, `chunklist`, `matchkeys`, `transpose`, `one`, `sum`,
//! `alltrue`, `anytrue`, the `set*` functions, and the removed `list`/`map`.

use std::collections::BTreeMap;

use unicode_segmentation::UnicodeSegmentation;

use super::{
    ANY, B, FResult, Func, N, Param, S, arg_err, f, fail, fv, int_arg, items, list_of, map_of, p, p_null, set_of,
};
use crate::convert::{convert, unify};
use crate::number::Number;
use crate::value::{Type, Value};

fn p_any_unknown(name: &'static str) -> Param {
    Param { allow_unknown: true, ..p(name, ANY) }
}

pub(super) fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "length" => f(vec![p_any_unknown("value")], |a, _| {
            let v = a[0].unmarked();
            match v {
                Value::String(s) => Ok(Value::int(s.graphemes(true).count() as i64)),
                Value::List(..) | Value::Set(..) | Value::Tuple(_) | Value::Map(..) | Value::Object(_) => {
                    if v.is_unknown() {
                        return Ok(Value::Unknown(N));
                    }
                    Ok(Value::int(v.length() as i64))
                }
                Value::Unknown(_) => Ok(Value::Unknown(N)),
                _ => fail("argument must be a string, a collection type, or a structural type"),
            }
        }),
        "concat" => fv(vec![], p("seqs", ANY), concat),
        "merge" => fv(vec![], p_null("maps", ANY), merge),
        "keys" => f(vec![p("inputMap", ANY)], |a, _| match a[0].unmarked() {
            Value::Map(_, m) => Ok(Value::list(S, m.keys().map(|k| Value::string(k.clone())).collect())),
            Value::Object(m) => Ok(Value::Tuple(m.keys().map(|k| Value::string(k.clone())).collect())),
            _ => arg_err(0, "must have map or object type"),
        }),
        "values" => f(vec![p("mapping", ANY)], |a, _| match a[0].unmarked() {
            Value::Map(t, m) => Ok(Value::list(t.clone(), m.values().cloned().collect())),
            Value::Object(m) => Ok(Value::Tuple(m.values().cloned().collect())),
            _ => fail("values() requires a map as the first argument"),
        }),
        "lookup" => fv(vec![p("inputMap", ANY), p("key", S)], p("default", ANY), |a, _| {
            if a.len() > 3 {
                return fail(format!("lookup() takes two or three arguments, got {}", a.len()));
            }
            let key = a[1].as_str().unwrap_or_default();
            match a[0].unmarked() {
                Value::Map(t, m) => {
                    let default = match a.get(2) {
                        Some(d) => match convert(d, t) {
                            Ok(c) => Some(c),
                            Err(_) => {
                                return arg_err(2, "the default value must have the same type as the map elements");
                            }
                        },
                        None => None,
                    };
                    match (m.get(key), default) {
                        (Some(v), _) => Ok(v.clone()),
                        (None, Some(d)) => Ok(d),
                        (None, None) => fail(format!("lookup failed to find key {}", crate::format::quote(key))),
                    }
                }
                Value::Object(m) => match (m.get(key), a.get(2)) {
                    (Some(v), _) => Ok(v.clone()),
                    (None, Some(d)) => Ok(d.clone()),
                    (None, None) => {
                        arg_err(0, format!("the given object has no attribute {}", crate::format::quote(key)))
                    }
                },
                _ => arg_err(0, "the first argument must be a map or object"),
            }
        }),
        "element" => f(vec![p("list", ANY), p("index", N)], |a, _| {
            let list = items(&a[0]);
            if !matches!(a[0].unmarked(), Value::List(..) | Value::Tuple(_)) {
                return arg_err(
                    0,
                    "cannot read elements from set of ... ".replace("set of ... ", &a[0].ty().friendly_name()),
                );
            }
            let i = int_arg(a, 1)?;
            if list.is_empty() {
                return fail("cannot use element function with an empty list");
            }
            if i < 0 {
                return fail("cannot use element function with a negative index");
            }
            Ok(list[(i as usize) % list.len()].clone())
        }),
        "index" => f(vec![p("list", ANY), p("value", ANY)], |a, _| {
            if !matches!(a[0].unmarked(), Value::List(..) | Value::Tuple(_)) {
                return arg_err(0, "argument must be a list or tuple");
            }
            for (i, item) in items(&a[0]).iter().enumerate() {
                if crate::eval::equals(item, &a[1]) == Some(true) {
                    return Ok(Value::int(i as i64));
                }
            }
            fail("item not found")
        }),
        "contains" => f(vec![p("list", ANY), p("value", ANY)], |a, _| {
            if !matches!(a[0].unmarked(), Value::List(..) | Value::Tuple(_) | Value::Set(..)) {
                return arg_err(0, "argument must be list, tuple, or set");
            }
            Ok(Value::Bool(items(&a[0]).iter().any(|item| crate::eval::equals(item, &a[1]) == Some(true))))
        }),
        "distinct" => f(vec![p("list", list_of(ANY))], |a, _| {
            let mut out: Vec<Value> = Vec::new();
            for item in items(&a[0]) {
                if !out.iter().any(|o| o.raw_equal(item)) {
                    out.push(item.clone());
                }
            }
            Ok(Value::list(elem_type(&a[0]), out))
        }),
        "reverse" => f(vec![p("list", ANY)], |a, _| match a[0].unmarked() {
            Value::List(t, v) => Ok(Value::list(t.clone(), v.iter().rev().cloned().collect())),
            Value::Tuple(v) => Ok(Value::Tuple(v.iter().rev().cloned().collect())),
            Value::Set(t, v) => Ok(Value::list(t.clone(), v.iter().rev().cloned().collect())),
            _ => arg_err(0, "can only reverse list or tuple values, not ".to_owned() + &a[0].ty().friendly_name()),
        }),
        "flatten" => f(vec![p("list", ANY)], |a, _| {
            if !matches!(a[0].unmarked(), Value::List(..) | Value::Tuple(_) | Value::Set(..)) {
                return arg_err(0, "can only flatten lists, sets and tuples");
            }
            let mut out = Vec::new();
            flatten_into(&a[0], &mut out);
            Ok(Value::Tuple(out))
        }),
        "slice" => f(vec![p("list", ANY), p("start_index", N), p("end_index", N)], |a, _| {
            let list = items(&a[0]);
            let (start, end) = (int_arg(a, 1)?, int_arg(a, 2)?);
            if start < 0 {
                return arg_err(1, "start index must not be less than zero");
            }
            if end > list.len() as i64 {
                return arg_err(2, "end index must not be greater than the length of the list");
            }
            if start > end {
                return arg_err(1, "start index must not be greater than end index");
            }
            let part = list[start as usize..end as usize].to_vec();
            match a[0].unmarked() {
                Value::Tuple(_) => Ok(Value::Tuple(part)),
                Value::List(t, _) => Ok(Value::list(t.clone(), part)),
                _ => arg_err(0, "must be a list or tuple value"),
            }
        }),
        "sort" => f(vec![p("list", list_of(S))], |a, _| {
            let mut v: Vec<Value> = items(&a[0]).to_vec();
            if v.iter().any(Value::is_null) {
                return arg_err(0, "given list element 0 is null; a null string cannot be sorted");
            }
            v.sort_by(|x, y| x.as_str().unwrap_or_default().as_bytes().cmp(y.as_str().unwrap_or_default().as_bytes()));
            Ok(Value::list(S, v))
        }),
        "range" => fv(vec![], p("params", N), range),
        "zipmap" => f(vec![p("keys", list_of(S)), p("values", ANY)], |a, _| {
            let keys = items(&a[0]);
            let vals = items(&a[1]);
            if keys.len() != vals.len() {
                return fail(format!(
                    "number of keys ({}) does not match number of values ({})",
                    keys.len(),
                    vals.len()
                ));
            }
            let mut m = BTreeMap::new();
            for (k, v) in keys.iter().zip(vals) {
                m.insert(k.as_str().unwrap_or_default().to_owned(), v.clone());
            }
            match a[1].unmarked() {
                Value::List(t, _) => Ok(Value::Map(t.clone(), m)),
                Value::Tuple(_) => Ok(Value::Object(m)),
                _ => arg_err(1, "values must be a list or tuple value"),
            }
        }),
        "compact" => f(vec![p("list", list_of(S))], |a, _| {
            let v = items(&a[0]).iter().filter(|x| !x.is_null() && x.as_str() != Some("")).cloned().collect();
            Ok(Value::list(S, v))
        }),
        "coalesce" => fv(vec![], p_null("vals", ANY), |a, _| {
            let ty = unify(&a.iter().map(Value::ty).collect::<Vec<_>>())
                .ok_or(super::FuncError::Failed("all arguments must have the same type".into()))?;
            for v in a {
                if v.is_null() || v.as_str() == Some("") {
                    continue;
                }
                return Ok(convert(v, &ty).unwrap_or_else(|_| v.clone()));
            }
            fail("no non-null, non-empty-string arguments")
        }),
        "coalescelist" => fv(vec![], p_null("vals", ANY), |a, _| {
            for (i, v) in a.iter().enumerate() {
                if !matches!(v.unmarked(), Value::List(..) | Value::Tuple(_) | Value::Null(_)) {
                    return arg_err(i, "must be a list or tuple");
                }
                if !v.is_null() && v.length() > 0 {
                    return Ok(v.clone());
                }
            }
            fail("no non-null arguments")
        }),
        "chunklist" => f(vec![p("list", list_of(ANY)), p("size", N)], |a, _| {
            let size = int_arg(a, 1)?;
            if size < 0 {
                return fail("the size argument must be positive");
            }
            let list = items(&a[0]);
            let et = elem_type(&a[0]);
            let chunks: Vec<Value> = if size == 0 {
                vec![a[0].clone()]
            } else {
                list.chunks(size as usize).map(|c| Value::list(et.clone(), c.to_vec())).collect()
            };
            Ok(Value::list(list_of(et), chunks))
        }),
        "matchkeys" => {
            f(vec![p("values", list_of(ANY)), p("keys", list_of(ANY)), p("searchset", list_of(ANY))], |a, _| {
                let (vals, keys, search) = (items(&a[0]), items(&a[1]), items(&a[2]));
                if vals.len() != keys.len() {
                    return fail("length of keys and values should be equal");
                }
                let out = vals
                    .iter()
                    .zip(keys)
                    .filter(|(_, k)| search.iter().any(|s| crate::eval::equals(k, s) == Some(true)))
                    .map(|(v, _)| v.clone())
                    .collect();
                Ok(Value::list(elem_type(&a[0]), out))
            })
        }
        "transpose" => f(vec![p("values", map_of(list_of(S)))], |a, _| {
            let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            if let Value::Map(_, m) = a[0].unmarked() {
                for (k, list) in m {
                    for v in items(list) {
                        out.entry(v.as_str().unwrap_or_default().to_owned())
                            .or_default()
                            .push(Value::string(k.clone()));
                    }
                }
            }
            Ok(Value::Map(list_of(S), out.into_iter().map(|(k, v)| (k, Value::list(S, v))).collect()))
        }),
        "one" => f(vec![p("list", ANY)], |a, _| {
            let v = a[0].unmarked();
            if !matches!(v, Value::List(..) | Value::Tuple(_) | Value::Set(..)) {
                return arg_err(0, "must be a list, set, or tuple value with either zero or one elements");
            }
            match items(v) {
                [] => Ok(Value::Null(elem_type(v))),
                [one] => Ok(one.clone()),
                _ => arg_err(0, "must be a list, set, or tuple value with either zero or one elements"),
            }
        }),
        "sum" => f(vec![p("list", ANY)], |a, _| {
            let list = items(&a[0]);
            if !matches!(a[0].unmarked(), Value::List(..) | Value::Tuple(_) | Value::Set(..)) {
                return arg_err(
                    0,
                    "argument must be list, set, or tuple. Received ".to_owned() + &a[0].ty().friendly_name(),
                );
            }
            if list.is_empty() {
                return arg_err(0, "cannot sum an empty list");
            }
            let mut acc: Option<Number> = None;
            for (i, item) in list.iter().enumerate() {
                let n = match convert(item, &N) {
                    Ok(Value::Number(n)) => n,
                    _ => {
                        return arg_err(0, format!("element {i} is not a number")).or_else(|_: super::FuncError| {
                            fail("argument must be list, set, or tuple of number values")
                        });
                    }
                };
                acc = Some(match acc {
                    None => n,
                    Some(x) => x
                        .add(&n)
                        .map_err(|_| super::FuncError::Failed("can't compute sum of opposing infinities".into()))?,
                });
            }
            Ok(acc.map(Value::Number).unwrap_or(Value::int(0)))
        }),
        "alltrue" => f(vec![p("list", list_of(B))], |a, _| {
            Ok(Value::Bool(items(&a[0]).iter().all(|v| v.as_bool() == Some(true))))
        }),
        "anytrue" => f(vec![p("list", list_of(B))], |a, _| {
            Ok(Value::Bool(items(&a[0]).iter().any(|v| v.as_bool() == Some(true))))
        }),
        "setunion" => {
            fv(vec![p("first_set", set_of(ANY))], p("other_sets", set_of(ANY)), |a, _| set_op(a, SetOp::Union))
        }
        "setintersection" => {
            fv(vec![p("first_set", set_of(ANY))], p("other_sets", set_of(ANY)), |a, _| set_op(a, SetOp::Intersection))
        }
        "setsubtract" => f(vec![p("a", set_of(ANY)), p("b", set_of(ANY))], |a, _| set_op(a, SetOp::Subtract)),
        "setproduct" => fv(vec![], p("sets", ANY), setproduct),
        "list" => fv(vec![], p("vals", ANY), |_, _| {
            fail(
                "the \"list\" function was deprecated in Terraform v0.12 and is no longer available; use tolist([ ... ]) syntax to write a literal list",
            )
        }),
        "map" => fv(vec![], p("vals", ANY), |_, _| {
            fail(
                "the \"map\" function was deprecated in Terraform v0.12 and is no longer available; use tomap({ ... }) syntax to write a literal map",
            )
        }),
        _ => return None,
    })
}

fn elem_type(v: &Value) -> Type {
    match v.unmarked().ty() {
        Type::List(t) | Type::Set(t) | Type::Map(t) => *t,
        Type::Tuple(ts) => unify(&ts).unwrap_or(ANY),
        _ => ANY,
    }
}

fn flatten_into(v: &Value, out: &mut Vec<Value>) {
    for item in items(v) {
        match item.unmarked() {
            Value::List(..) | Value::Tuple(_) | Value::Set(..) => flatten_into(item, out),
            _ => out.push(item.clone()),
        }
    }
}

fn concat(a: &[Value], _: &super::FuncContext) -> FResult {
    if a.is_empty() {
        return fail("at least one argument is required");
    }
    for (i, v) in a.iter().enumerate() {
        if !matches!(v.unmarked(), Value::List(..) | Value::Tuple(_)) {
            return arg_err(i, "all arguments must be lists or tuples; got ".to_owned() + &v.ty().friendly_name());
        }
    }
    let all: Vec<Value> = a.iter().flat_map(|v| items(v).to_vec()).collect();
    if a.iter().all(|v| matches!(v.unmarked(), Value::List(..))) {
        let types: Vec<Type> = a.iter().map(elem_type).collect();
        if let Some(t) = unify(&types) {
            let conv: Result<Vec<Value>, _> = all.iter().map(|v| convert(v, &t)).collect();
            if let Ok(conv) = conv {
                return Ok(Value::list(t, conv));
            }
        }
    }
    Ok(Value::Tuple(all))
}

fn merge(a: &[Value], _: &super::FuncContext) -> FResult {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let mut all_maps = true;
    let mut elem_types = Vec::new();
    for v in a {
        match v.unmarked() {
            Value::Null(_) => {}
            Value::Map(t, m) => {
                elem_types.push(t.clone());
                out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Value::Object(m) => {
                all_maps = false;
                out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            _ => {
                return fail(
                    "arguments must be maps or objects, got ".to_owned()
                        + &crate::format::quote(&v.ty().friendly_name()),
                );
            }
        }
    }
    if all_maps
        && !elem_types.is_empty()
        && let Some(t) = unify(&elem_types)
    {
        let conv: Result<BTreeMap<String, Value>, _> =
            out.iter().map(|(k, v)| convert(v, &t).map(|c| (k.clone(), c))).collect();
        if let Ok(m) = conv {
            return Ok(Value::Map(t, m));
        }
    }
    Ok(Value::Object(out))
}

fn range(a: &[Value], _: &super::FuncContext) -> FResult {
    let nums: Vec<Number> = a.iter().filter_map(|v| v.as_number().cloned()).collect();
    let (start, end, step) = match nums.as_slice() {
        [end] => {
            let step = if end.is_negative() && !end.is_zero() { -1 } else { 1 };
            (Number::from_i64(0), end.clone(), Number::from_i64(step))
        }
        [start, end] => {
            let step = if end.cmp_value(start).is_lt() { Number::from_i64(-1) } else { Number::from_i64(1) };
            (start.clone(), end.clone(), step)
        }
        [start, end, step] => (start.clone(), end.clone(), step.clone()),
        _ => return fail("must have one, two, or three arguments"),
    };
    if step.is_zero() {
        return arg_err(2, "step must not be zero");
    }
    let up = !step.is_negative();
    if !up && end.cmp_value(&start).is_gt() {
        return arg_err(1, "end must be less than start when step is negative");
    }
    if up && end.cmp_value(&start).is_lt() {
        return arg_err(1, "end must be greater than start when step is positive");
    }
    let mut out = Vec::new();
    let mut v = start;
    loop {
        let go = if up { v.cmp_value(&end).is_lt() } else { v.cmp_value(&end).is_gt() };
        if !go {
            break;
        }
        if out.len() >= 1024 {
            return fail(
                "more than 1024 values were generated; either decrease the difference between start and end or use a smaller step",
            );
        }
        out.push(Value::Number(v.clone()));
        v = v.add(&step).map_err(|_| super::FuncError::Failed("invalid step".into()))?;
    }
    Ok(Value::list(N, out))
}

enum SetOp {
    Union,
    Intersection,
    Subtract,
}

fn set_op(a: &[Value], op: SetOp) -> FResult {
    let types: Vec<Type> = a.iter().map(elem_type).collect();
    let ty =
        unify(&types).ok_or(super::FuncError::Failed("given sets must all have compatible element types".into()))?;
    let conv =
        |v: &Value| -> Vec<Value> { items(v).iter().map(|x| convert(x, &ty).unwrap_or_else(|_| x.clone())).collect() };
    let first = conv(&a[0]);
    let out: Vec<Value> = match op {
        SetOp::Union => a.iter().flat_map(conv).collect(),
        SetOp::Intersection => {
            first.into_iter().filter(|x| a[1..].iter().all(|s| conv(s).iter().any(|y| y.raw_equal(x)))).collect()
        }
        SetOp::Subtract => {
            let other = conv(&a[1]);
            first.into_iter().filter(|x| !other.iter().any(|y| y.raw_equal(x))).collect()
        }
    };
    let ty = if ty == ANY && out.is_empty() { ANY } else { ty };
    Ok(Value::set(ty, out))
}

fn setproduct(a: &[Value], _: &super::FuncContext) -> FResult {
    if a.is_empty() {
        return fail("at least one argument is required");
    }
    let all_sets = a.iter().all(|v| matches!(v.unmarked(), Value::Set(..)));
    let mut rows: Vec<Vec<Value>> = vec![Vec::new()];
    for v in a {
        let mut next = Vec::new();
        for row in &rows {
            for item in items(v) {
                let mut r = row.clone();
                r.push(item.clone());
                next.push(r);
            }
        }
        rows = next;
    }
    let tuple_ty = Type::Tuple(a.iter().map(elem_type).collect());
    let products: Vec<Value> = rows.into_iter().map(Value::Tuple).collect();
    if all_sets { Ok(Value::set(tuple_ty, products)) } else { Ok(Value::list(tuple_ty, products)) }
}

#[cfg(test)]
mod tests {
    use crate::funcs::testutil::ev;

    #[test]
    fn collections() {
        assert_eq!(ev(r#"length("héllo")"#), "5");
        assert_eq!(ev("length([1, 2])"), "2");
        assert_eq!(ev("concat([1], [2, 3])"), "[\n  1,\n  2,\n  3,\n]");
        assert_eq!(ev("merge({a=1},{b=2})"), "{\n  \"a\" = 1\n  \"b\" = 2\n}");
        assert_eq!(ev(r#"element([1, 2, 3], 5)"#), "3");
        assert_eq!(ev(r#"sort(["b", "a", "C"])"#), "tolist([\n  \"C\",\n  \"a\",\n  \"b\",\n])");
        assert_eq!(ev("range(3)"), "tolist([\n  0,\n  1,\n  2,\n])");
        assert!(ev("length(range(1025))").contains("more than 1024 values"));
        assert_eq!(ev("range(1024)[1023]"), "1023");
        assert_eq!(ev("slice([1, 2, 3], 1, 2)"), "[\n  2,\n]");
        assert_eq!(ev("distinct([1, 1, 2])"), "tolist([\n  1,\n  2,\n])");
        assert_eq!(ev(r#"zipmap(["a"], [1])"#), "{\n  \"a\" = 1\n}");
        assert!(ev(r#"lookup({a=1}, "b")"#).contains("the given object has no attribute \"b\""));
        assert_eq!(ev(r#"lookup({a=1}, "b", 2)"#), "2");
        assert_eq!(ev("sum([1, 2, 3.5])"), "6.5");
        assert_eq!(ev("flatten([[1], [2, [3]]])"), "[\n  1,\n  2,\n  3,\n]");
        assert_eq!(ev("setunion([1], [2, 1])"), "toset([\n  1,\n  2,\n])");
        assert_eq!(ev(r#"coalesce("", "b")"#), r#""b""#);
        assert_eq!(ev("one([])"), "null");
    }
}

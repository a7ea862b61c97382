//! The few built-in operations that can allocate far more in one step than the run could
//! ever hold — `array.pad(n, x)`, `blob(n)`, `blob(n, v)`, `blob.pad(n, v)`,
//! `string.pad(n, …)` — registered again with a check against the run's memory budget
//! first, so `blob(3_000_000_000)` is a clear error rather than a 3 GB allocation before the
//! next check between operations. Same results as the built-ins otherwise; an engine's own
//! registrations take precedence over Rhai's packages.

use super::context::MemoryExceeded;
use crate::memory::Meter;
use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, INT, ImmutableString, Position};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// A rough size of a value's heap, enough to refuse a `pad` that could not fit.
fn approx(v: &Dynamic) -> usize {
    if let Some(s) = v.read_lock::<ImmutableString>() {
        return s.len();
    }
    if let Some(b) = v.read_lock::<Blob>() {
        return b.len();
    }
    if let Some(a) = v.read_lock::<Array>() {
        return a.iter().map(|e| 16 + approx(e)).sum();
    }
    if let Some(m) = v.read_lock::<rhai::Map>() {
        return m.iter().map(|(k, e)| 48 + k.len() + approx(e)).sum();
    }
    0
}

fn check(meter: Meter, bytes: usize) -> RhaiResult<()> {
    if meter.fits(bytes) {
        Ok(())
    } else {
        Err(Box::new(EvalAltResult::ErrorTerminated(
            Dynamic::from(MemoryExceeded {
                limit: meter.limit(),
            }),
            Position::NONE,
        )))
    }
}

pub fn register(engine: &mut Engine, meter: Meter) {
    engine.register_fn(
        "pad",
        move |a: &mut Array, len: INT, item: Dynamic| -> RhaiResult<()> {
            let Ok(len) = usize::try_from(len) else {
                return Ok(());
            };
            if len > a.len() {
                check(meter, (len - a.len()).saturating_mul(16 + approx(&item)))?;
                a.resize(len, item);
            }
            Ok(())
        },
    );
    engine.register_fn(
        "pad",
        move |b: &mut Blob, len: INT, v: INT| -> RhaiResult<()> {
            let Ok(len) = usize::try_from(len) else {
                return Ok(());
            };
            if len > b.len() {
                check(meter, len - b.len())?;
                b.resize(len, (v & 0xff) as u8);
            }
            Ok(())
        },
    );
    engine.register_fn("blob", move |len: INT| -> RhaiResult<Blob> {
        let len = usize::try_from(len).unwrap_or(0);
        check(meter, len)?;
        Ok(vec![0; len])
    });
    engine.register_fn("blob", move |len: INT, v: INT| -> RhaiResult<Blob> {
        let len = usize::try_from(len).unwrap_or(0);
        check(meter, len)?;
        Ok(vec![(v & 0xff) as u8; len])
    });
    engine.register_fn(
        "pad",
        move |s: &mut ImmutableString, len: INT, ch: char| -> RhaiResult<()> {
            let Ok(len) = usize::try_from(len) else {
                return Ok(());
            };
            let have = s.chars().count();
            if len > have {
                check(meter, (len - have).saturating_mul(ch.len_utf8()))?;
                let text = s.make_mut();
                text.extend(std::iter::repeat_n(ch, len - have));
            }
            Ok(())
        },
    );
    engine.register_fn(
        "pad",
        move |s: &mut ImmutableString, len: INT, pad: &str| -> RhaiResult<()> {
            let Ok(len) = usize::try_from(len) else {
                return Ok(());
            };
            let mut have = s.chars().count();
            if len <= have || pad.is_empty() {
                return Ok(());
            }
            // At least a byte per character.
            check(meter, len - have)?;
            let text = s.make_mut();
            let n = pad.chars().count();
            while have < len {
                if have + n <= len {
                    text.push_str(pad);
                    have += n;
                } else {
                    text.extend(pad.chars().take(len - have));
                    have = len;
                }
            }
            Ok(())
        },
    );
}

//! Small numeric kernels of the log density, written so the compiler vectorizes them: the hot
//! loops run over weeks, and plain `f64::exp` calls or single-accumulator sums would serialize
//! them.
//!
//! Every public kernel is compiled twice on x86-64: for the build's target CPU (baseline x86-64
//! by default, so the binary runs on any x86-64 machine) and for x86-64-v3 (AVX2 + FMA, four
//! weeks per instruction), picked at run time by what the CPU has (`kernel!`). The bodies are
//! the same code with fixed summation orders, and Rust never contracts a multiply and an add
//! into an FMA, so both give the same bits: draws do not depend on the CPU.

/// `pub fn name(args) -> ret { body }` whose body runs as AVX2 + FMA code when the CPU has
/// them (detected once by std and cached) and as the build's baseline code otherwise. A build
/// that already targets AVX2 (`-C target-cpu=x86-64-v3` or `native`) calls the body directly.
macro_rules! kernel {
    ($(#[$attr:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$attr])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
            {
                #[target_feature(enable = "avx2,fma")]
                fn v3($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has AVX2 and FMA, checked just above; `v3` is the same
                    // safe code as `body`, only compiled for them.
                    #[allow(unsafe_code)]
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

kernel! {
/// Dot product sum_i a_i b_i with eight independent accumulators (vectorizes; the summation
/// order is fixed, so results are deterministic).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        let (x, y): (&[f64; 8], &[f64; 8]) = (
            x.try_into().unwrap_or(&[0.0; 8]),
            y.try_into().unwrap_or(&[0.0; 8]),
        );
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    pairwise(acc) + tail
}
}

kernel! {
/// Sum of a slice with eight independent accumulators.
pub fn sum(a: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = a.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().sum();
    for x in chunks {
        let x: &[f64; 8] = x.try_into().unwrap_or(&[0.0; 8]);
        for k in 0..8 {
            acc[k] += x[k];
        }
    }
    pairwise(acc) + tail
}
}

kernel! {
/// Causal convolutions a_t = sum_l w_l x_(t-l) and da_t = sum_l dw_l x_(t-l) for
/// t = 0..a.len(), where `padded` holds w.len() zeros (or earlier spend) before x_0, so
/// x_(t-l) = padded[t + L - l]. Weeks are processed in blocks of sixteen held in registers across
/// all lags: one store per week instead of one per week and lag.
pub fn convolve_with_derivative(
    padded: &[f64],
    w: &[f64],
    dw: &[f64],
    a: &mut [f64],
    da: &mut [f64],
) {
    const B: usize = 16;
    let l_max = w.len().min(dw.len());
    let n = a
        .len()
        .min(da.len())
        .min(padded.len().saturating_sub(l_max));
    let blocks = n / B;
    for b in 0..blocks {
        let t0 = b * B;
        let (mut acc, mut dacc) = ([0.0f64; B], [0.0f64; B]);
        for l in 0..l_max {
            let start = t0 + l_max - l;
            let x: &[f64; B] = padded[start..start + B].try_into().unwrap_or(&[0.0; B]);
            let (wl, dwl) = (w[l], dw[l]);
            for k in 0..B {
                acc[k] += wl * x[k];
                dacc[k] += dwl * x[k];
            }
        }
        a[t0..t0 + B].copy_from_slice(&acc);
        da[t0..t0 + B].copy_from_slice(&dacc);
    }
    for t in blocks * B..n {
        let (mut acc, mut dacc) = (0.0, 0.0);
        for l in 0..l_max {
            let x = padded[t + l_max - l];
            acc += w[l] * x;
            dacc += dw[l] * x;
        }
        a[t] = acc;
        da[t] = dacc;
    }
}
}

kernel! {
/// Causal convolution a_t = sum_l w_l x_(t-l) for t = 0..a.len(), with `padded` laid out as
/// in [`convolve_with_derivative`] (w.len() values before x_0), blocked the same way.
pub fn convolve(padded: &[f64], w: &[f64], a: &mut [f64]) {
    const B: usize = 16;
    let l_max = w.len();
    let n = a.len().min(padded.len().saturating_sub(l_max));
    let blocks = n / B;
    for b in 0..blocks {
        let t0 = b * B;
        let mut acc = [0.0f64; B];
        for (l, wl) in w.iter().enumerate() {
            let start = t0 + l_max - l;
            let x: &[f64; B] = padded[start..start + B].try_into().unwrap_or(&[0.0; B]);
            for k in 0..B {
                acc[k] += wl * x[k];
            }
        }
        a[t0..t0 + B].copy_from_slice(&acc);
    }
    for t in blocks * B..n {
        a[t] = (0..l_max).map(|l| w[l] * padded[t + l_max - l]).sum();
    }
}
}

kernel! {
/// Causal convolution a_t = sum_(l <= t) w_l x_(t-l) of `x` with zero spend before x_0: the
/// first w.len() weeks summed directly, the rest by [`convolve`] reading `x` as its own padding.
pub fn convolve_from_zero(x: &[f64], w: &[f64], a: &mut [f64]) {
    let n = a.len().min(x.len());
    let head = w.len().min(n);
    for t in 0..head {
        a[t] = (0..=t).map(|l| w[l] * x[t - l]).sum();
    }
    if n > w.len() {
        convolve(&x[..n], w, &mut a[w.len()..n]);
    }
}
}

kernel! {
/// In place over weeks: the logistic saturation v = (1 - e^(-lam a)) / (1 + e^(-lam a)) of the
/// adstock a in `sat`, dv/dlam = a (1 - v^2) / 2 into `dlam`, and dv/dalpha = lam (1 - v^2) / 2
/// times the adstock's alpha-derivative held in `dalpha`. Returns the sums of v, dv/dlam and
/// dv/dalpha. One exponential per week; a >= 0 and lam > 0 keep its argument <= 0.
pub fn logistic_with_derivatives(
    lam: f64,
    sat: &mut [f64],
    dlam: &mut [f64],
    dalpha: &mut [f64],
) -> [f64; 3] {
    const B: usize = 16;
    let n = sat.len().min(dlam.len()).min(dalpha.len());
    let (mut sv, mut sl, mut sa) = ([0.0f64; B], [0.0f64; B], [0.0f64; B]);
    let blocks = n / B;
    let point = |a: f64, da: f64| {
        let e = exp_nonpositive(-lam * a);
        let v = (1.0 - e) / (1.0 + e);
        let d = 0.5 * (1.0 - v * v);
        (v, d * a, d * lam * da)
    };
    for b in 0..blocks {
        let r = b * B..b * B + B;
        let st: &mut [f64; B] = (&mut sat[r.clone()])
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        let dl: &mut [f64; B] = (&mut dlam[r.clone()])
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        let da: &mut [f64; B] = (&mut dalpha[r])
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        for k in 0..B {
            let (v, l, a) = point(st[k], da[k]);
            st[k] = v;
            dl[k] = l;
            da[k] = a;
            sv[k] += v;
            sl[k] += l;
            sa[k] += a;
        }
    }
    let mut tail = [0.0; 3];
    for t in blocks * B..n {
        let (v, l, a) = point(sat[t], dalpha[t]);
        sat[t] = v;
        dlam[t] = l;
        dalpha[t] = a;
        tail[0] += v;
        tail[1] += l;
        tail[2] += a;
    }
    [
        pairwise(sv) + tail[0],
        pairwise(sl) + tail[1],
        pairwise(sa) + tail[2],
    ]
}
}

kernel! {
/// sum_t logistic(lam a_t) over t = 0..n, with a_t = sum_l w_l x_(t-l) as in
/// [`convolve_with_derivative`]: the same arithmetic per week, without derivatives or buffers
/// (it runs once per stored draw).
pub fn logistic_adstock_sum(padded: &[f64], w: &[f64], lam: f64, n: usize) -> f64 {
    const B: usize = 16;
    let l_max = w.len();
    let n = n.min(padded.len().saturating_sub(l_max));
    let logistic = |a: f64| {
        let e = exp_nonpositive(-lam * a);
        (1.0 - e) / (1.0 + e)
    };
    let mut sums = [0.0f64; B];
    let blocks = n / B;
    for b in 0..blocks {
        let t0 = b * B;
        let mut acc = [0.0f64; B];
        for (l, wl) in w.iter().enumerate() {
            let start = t0 + l_max - l;
            let x: &[f64; B] = padded[start..start + B].try_into().unwrap_or(&[0.0; B]);
            for k in 0..B {
                acc[k] += wl * x[k];
            }
        }
        for k in 0..B {
            sums[k] += logistic(acc[k]);
        }
    }
    let mut tail = 0.0;
    for t in blocks * B..n {
        let a: f64 = (0..l_max).map(|l| w[l] * padded[t + l_max - l]).sum();
        tail += logistic(a);
    }
    pairwise(sums) + tail
}
}

kernel! {
/// sum_t (1 - e^(-lam a_t)) / (1 + e^(-lam a_t)) for a_t >= 0, lam > 0.
pub fn logistic_sum(lam: f64, a: &[f64]) -> f64 {
    const B: usize = 16;
    let logistic = |a: f64| {
        let e = exp_nonpositive(-lam * a);
        (1.0 - e) / (1.0 + e)
    };
    let mut sums = [0.0f64; B];
    let chunks = a.chunks_exact(B);
    let tail: f64 = chunks.remainder().iter().map(|&x| logistic(x)).sum();
    for x in chunks {
        for k in 0..B {
            sums[k] += logistic(x[k]);
        }
    }
    pairwise(sums) + tail
}
}

kernel! {
/// (sum_(t < window) v_t, sum_t x_t (1 - v_t^2) / 2) with x_t = lam a_t and v_t = (1 - e^(-x_t))
/// / (1 + e^(-x_t)), a_t >= 0, lam > 0: a logistic channel's total over the first `window`
/// weeks, and d/dm of its total over all weeks at m times the adstock, at m = 1 (dv/dx =
/// (1 - v^2) / 2). One exponential per week.
pub fn logistic_sum_and_slope(lam: f64, a: &[f64], window: usize) -> (f64, f64) {
    let window = window.min(a.len());
    let (total, head) = logistic_value_and_slope_sums(lam, &a[..window]);
    let (_, tail) = logistic_value_and_slope_sums(lam, &a[window..]);
    (total, head + tail)
}
}

/// (sum_t v_t, sum_t x_t (1 - v_t^2) / 2) of [`logistic_sum_and_slope`] over all of `a`,
/// blocked like [`logistic_sum`] so the exponential vectorizes.
#[inline(always)]
fn logistic_value_and_slope_sums(lam: f64, a: &[f64]) -> (f64, f64) {
    const B: usize = 16;
    let both = |a: f64| {
        let x = lam * a;
        let e = exp_nonpositive(-x);
        let v = (1.0 - e) / (1.0 + e);
        (v, 0.5 * x * (1.0 - v * v))
    };
    let (mut values, mut slopes) = ([0.0f64; B], [0.0f64; B]);
    let chunks = a.chunks_exact(B);
    let (mut tail_v, mut tail_s) = (0.0, 0.0);
    for &x in chunks.remainder() {
        let (v, s) = both(x);
        tail_v += v;
        tail_s += s;
    }
    for x in chunks {
        for k in 0..B {
            let (v, s) = both(x[k]);
            values[k] += v;
            slopes[k] += s;
        }
    }
    (pairwise(values) + tail_v, pairwise(slopes) + tail_s)
}

kernel! {
/// In place, a_t -> beta (1 - e^(-lam a_t)) / (1 + e^(-lam a_t)) for a_t >= 0, lam > 0: a
/// channel's term from its adstock, blocked like the other kernels so the exponential vectorizes.
pub fn scaled_logistic_in_place(lam: f64, beta: f64, a: &mut [f64]) {
    for v in a.iter_mut() {
        let e = exp_nonpositive(-lam * *v);
        *v = beta * (1.0 - e) / (1.0 + e);
    }
}
}

kernel! {
/// For k = 0..out.len(), out_k = sum_t logistic(k h lam a_t) with logistic(x) = (1 - e^(-x)) /
/// (1 + e^(-x)), a_t >= 0, lam > 0: a response curve on an even grid of spend multipliers.
/// e^(-k h lam a_t) is q_t^k with q_t = e^(-h lam a_t), one exponential per week for the whole
/// grid; the products drift from the exponential by at most about k ulps (1e-14 at k = 40).
pub fn logistic_sums_on_grid(lam: f64, h: f64, a: &[f64], out: &mut [f64]) {
    let q: Vec<f64> = a.iter().map(|x| exp_nonpositive(-h * lam * x)).collect();
    let mut e = vec![1.0; a.len()];
    for o in out.iter_mut() {
        let mut sums = [0.0f64; 16];
        let blocks = e.len() / 16;
        for b in 0..blocks {
            let block = b * 16..b * 16 + 16;
            for ((s, et), qt) in sums.iter_mut().zip(&mut e[block.clone()]).zip(&q[block]) {
                *s += (1.0 - *et) / (1.0 + *et);
                *et *= qt;
            }
        }
        let mut tail = 0.0;
        for t in blocks * 16..e.len() {
            tail += (1.0 - e[t]) / (1.0 + e[t]);
            e[t] *= q[t];
        }
        *o = pairwise(sums) + tail;
    }
}
}

/// Sum of N accumulators (N a power of two) by pairwise halving: a fixed order.
#[inline(always)]
fn pairwise<const N: usize>(mut a: [f64; N]) -> f64 {
    let mut len = N;
    while len > 1 {
        len /= 2;
        for k in 0..len {
            a[k] += a[k + len];
        }
    }
    a[0]
}

/// e^x for x <= 0 in branch-free arithmetic that vectorizes: x = k ln 2 + r with |r| <= ln2/2
/// (Cody-Waite split), e^r by its degree-12 Taylor polynomial (relative error < 2e-16), times
/// 2^k built from the exponent bits. Inputs below -700 return e^-700 (about 1e-304), which is
/// zero for every use here (saturation curves and their derivatives).
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    // ln 2 split so that k * LN2_HI is exact for |k| < 2^11 (fdlibm's constants).
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // Adding 1.5 * 2^52 rounds to the nearest integer in the low mantissa bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-700.0, 0.0);
    let shifted = x * LOG2E + SHIFTER;
    let k = shifted - SHIFTER;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // sum_{j<=12} r^j / j! by Estrin's scheme: five dependent steps instead of Horner's
    // twelve, so blocks of weeks are not bound by floating-point latency.
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let q0 = 1.0 + r;
    let q1 = 1.0 / 2.0 + r * (1.0 / 6.0);
    let q2 = 1.0 / 24.0 + r * (1.0 / 120.0);
    let q3 = 1.0 / 720.0 + r * (1.0 / 5_040.0);
    let q4 = 1.0 / 40_320.0 + r * (1.0 / 362_880.0);
    let q5 = 1.0 / 3_628_800.0 + r * (1.0 / 39_916_800.0);
    let q6 = 1.0 / 479_001_600.0;
    let s0 = q0 + r2 * q1;
    let s1 = q2 + r2 * q3;
    let s2 = q4 + r2 * q5;
    let p = (s0 + r4 * s1) + r8 * (s2 + r4 * q6);
    // k is an integer in [-1010, 0]; its two's complement sits in the low bits of `shifted`.
    let k_bits = shifted.to_bits().wrapping_sub(SHIFTER.to_bits());
    let two_k = f64::from_bits(k_bits.wrapping_add(1023).wrapping_shl(52));
    p * two_k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_slope_is_the_derivative_of_the_total_in_the_multiplier() {
        let a: Vec<f64> = (0..40).map(|t| 0.05 * ((t * 37) % 23) as f64).collect();
        let lam = 2.5;
        let (total, slope) = logistic_sum_and_slope(lam, &a, 25);
        assert!((total - logistic_sum(lam, &a[..25])).abs() < 1e-12);
        let h = 1e-5;
        let fd =
            (logistic_sum(lam * (1.0 + h), &a) - logistic_sum(lam * (1.0 - h), &a)) / (2.0 * h);
        assert!((slope - fd).abs() < 1e-6 * fd.abs(), "{slope} vs {fd}");
    }

    #[test]
    fn convolution_from_zero_equals_the_zero_padded_convolution() {
        let w = [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625];
        for n in [0, 1, 3, 6, 7, 22, 40] {
            let x: Vec<f64> = (0..n).map(|t| ((t * 7919) % 13) as f64 + 0.5).collect();
            let mut padded = vec![0.0; w.len()];
            padded.extend_from_slice(&x);
            let (mut expected, mut got) = (vec![0.0; n], vec![f64::NAN; n]);
            convolve(&padded, &w, &mut expected);
            convolve_from_zero(&x, &w, &mut got);
            for (t, (e, g)) in expected.iter().zip(&got).enumerate() {
                // The direct sums of the first weeks add in another order than the blocks.
                assert!(
                    (e - g).abs() <= 1e-14 * e.abs().max(1.0),
                    "n={n} t={t}: {g} vs {e}"
                );
            }
        }
    }

    #[test]
    fn exp_matches_the_library_to_a_few_ulps() {
        let mut worst: f64 = 0.0;
        let mut x = 0.0;
        while x > -700.0 {
            let (fast, exact) = (exp_nonpositive(x), x.exp());
            worst = worst.max(((fast - exact) / exact).abs());
            x -= 0.001_37;
        }
        assert!(worst < 1e-15, "worst relative error {worst:e}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1e6) < 1e-300);
        assert!(exp_nonpositive(f64::NEG_INFINITY) < 1e-300);
    }

    #[test]
    fn scaled_logistic_is_beta_tanh_of_half_lam_a() {
        let (lam, beta) = (2.7, 0.8);
        let mut a: Vec<f64> = (0..41).map(|i| f64::from(i) * 0.173).collect();
        let expected: Vec<f64> = a.iter().map(|x| beta * (0.5 * lam * x).tanh()).collect();
        scaled_logistic_in_place(lam, beta, &mut a);
        for (got, want) in a.iter().zip(&expected) {
            assert!((got - want).abs() <= 4.0 * f64::EPSILON * want.abs().max(1e-300));
        }
        assert_eq!(a[0], 0.0);
    }

    #[test]
    fn grid_sums_equal_one_exponential_per_multiplier() {
        let (lam, h) = (3.1, 0.05);
        let a: Vec<f64> = (0..53).map(|i| f64::from(i % 7) * 0.21).collect();
        let mut grid = vec![0.0; 41];
        logistic_sums_on_grid(lam, h, &a, &mut grid);
        for (k, got) in grid.iter().enumerate() {
            let m = k as f64 * h;
            let want = logistic_sum(lam * m, &a);
            assert!(
                (got - want).abs() <= 1e-13 * want.abs().max(1.0),
                "k {k}: {got} {want}"
            );
        }
        assert_eq!(grid[0], 0.0);
    }

    #[test]
    fn blocked_convolution_equals_the_direct_sum() {
        let l_max = 5;
        let x: Vec<f64> = (0..37).map(|i| ((i * 7 % 5) as f64) * 0.5 + 0.1).collect();
        let mut padded = vec![0.0; l_max];
        padded.extend_from_slice(&x);
        let w = [0.4, 0.3, 0.15, 0.1, 0.05];
        let dw = [-1.0, 0.5, 0.25, 0.2, 0.05];
        let (mut a, mut da) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        convolve_with_derivative(&padded, &w, &dw, &mut a, &mut da);
        for t in 0..x.len() {
            let lags = 0..l_max.min(t + 1);
            let direct: f64 = lags.clone().map(|l| w[l] * x[t - l]).sum();
            let ddirect: f64 = lags.map(|l| dw[l] * x[t - l]).sum();
            assert!((a[t] - direct).abs() < 1e-14 && (da[t] - ddirect).abs() < 1e-14);
        }
    }

    #[test]
    fn dot_and_sum_equal_the_naive_loops() {
        for n in [0usize, 1, 7, 8, 9, 179, 1000] {
            let a: Vec<f64> = (0..n).map(|i| ((i * 37 % 11) as f64 - 5.0) / 3.0).collect();
            let b: Vec<f64> = (0..n).map(|i| ((i * 17 % 13) as f64) * 0.25).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() <= 1e-12 * (1.0 + naive.abs()));
            let naive_sum: f64 = a.iter().sum();
            assert!((sum(&a) - naive_sum).abs() <= 1e-12 * (1.0 + naive_sum.abs()));
        }
    }
}

//! Small numeric kernels of the log density, written so the compiler vectorizes them: the hot
//! loops run over weeks, and plain `f64::exp` calls or single-accumulator sums would serialize
//! them.

/// Dot product sum_i a_i b_i with eight independent accumulators (vectorizes; the summation
/// order is fixed, so results are deterministic).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let chunks = n / 8;
    for i in 0..chunks {
        let (x, y) = (&a[8 * i..8 * i + 8], &b[8 * i..8 * i + 8]);
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for i in 8 * chunks..n {
        tail += a[i] * b[i];
    }
    pairwise8(acc) + tail
}

/// Sum of a slice with eight independent accumulators.
pub fn sum(a: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = a.len() / 8;
    for i in 0..chunks {
        let x = &a[8 * i..8 * i + 8];
        for k in 0..8 {
            acc[k] += x[k];
        }
    }
    pairwise8(acc) + a[8 * chunks..].iter().sum::<f64>()
}

fn pairwise8(a: [f64; 8]) -> f64 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// e^x for x <= 0 in branch-free arithmetic that vectorizes: x = k ln 2 + r with |r| <= ln2/2
/// (Cody-Waite split), e^r by its degree-12 Taylor polynomial (relative error < 2e-16), times
/// 2^k built from the exponent bits. Inputs below -700 return e^-700 (about 1e-304), which is
/// zero for every use here (saturation curves and their derivatives).
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238_2e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // Adding 1.5 * 2^52 rounds to the nearest integer in the low mantissa bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-700.0, 0.0);
    let shifted = x * LOG2E + SHIFTER;
    let k = shifted - SHIFTER;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Horner for sum_{j<=12} r^j / j!.
    let mut p = 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // k is an integer in [-1010, 0]; its two's complement sits in the low bits of `shifted`.
    let k_bits = shifted.to_bits().wrapping_sub(SHIFTER.to_bits());
    let two_k = f64::from_bits(k_bits.wrapping_add(1023).wrapping_shl(52));
    p * two_k
}

#[cfg(test)]
mod tests {
    use super::*;

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

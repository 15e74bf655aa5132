//! Special functions the likelihoods need: ln Gamma and its derivative, the digamma function.

/// ln Gamma(x) for x > 0 (Lanczos approximation, g = 7, nine terms; relative error about
/// 1e-15), by reflection for 0 < x < 0.5. Returns +inf at x = 0 and NaN for x < 0 or NaN.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::INFINITY;
    }
    if x < 0.5 {
        // Gamma(x) Gamma(1 - x) = pi / sin(pi x).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    if x > 1e15 {
        // Stirling: the Lanczos sum's terms underflow relative to its leading one.
        return (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln();
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The complementary error function erfc(x) = Q(1/2, x^2) for x >= 0, with Q the regularized
/// upper incomplete gamma function (series for x^2 < 3/2, Lentz's continued fraction above;
/// Numerical Recipes 6.2), and erfc(-x) = 2 - erfc(x); relative error about 1e-15.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x > 27.3 {
        return 0.0; // below the smallest subnormal
    }
    // The common factor e^(-z) z^(1/2) / Gamma(1/2) = x e^(-x^2) / sqrt(pi), with x^2 split
    // exactly into hi + lo so e^(-x^2) keeps full precision in the far tail.
    let z = x * x;
    let lo = x.mul_add(x, -z);
    let front = x * (-z).exp() * (-lo).exp() / std::f64::consts::PI.sqrt();
    if z < 1.5 {
        1.0 - lower_gamma_series(z) * front
    } else {
        upper_gamma_fraction(z) * front
    }
}

/// sum_n z^n / ((1/2)(3/2)...(n + 1/2)): P(1/2, z) without its common factor.
fn lower_gamma_series(z: f64) -> f64 {
    let (mut ap, mut del) = (0.5, 2.0);
    let mut sum = del;
    for _ in 0..200 {
        ap += 1.0;
        del *= z / ap;
        sum += del;
        if del.abs() < sum.abs() * f64::EPSILON {
            break;
        }
    }
    sum
}

/// The continued fraction 1 / (z + 1/2 - (1 (1 - 1/2)) / (z + 5/2 - ...)) of Q(1/2, z)
/// without its common factor, by the modified Lentz method.
fn upper_gamma_fraction(z: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut b = z + 0.5;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..500 {
        let an = -(i as f64) * (i as f64 - 0.5);
        b += 2.0;
        d = 1.0 / guard(an * d + b);
        c = guard(b + an / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < f64::EPSILON {
            break;
        }
    }
    h
}

/// Standard normal CDF: Phi(z) = erfc(-z / sqrt 2) / 2.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The digamma function psi(x) = d ln Gamma(x) / dx for x > 0: upward recurrence to x >= 10,
/// then the asymptotic series (absolute error below 1e-14). NaN for x <= 0.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // ln x - 1/(2x) - sum_k B_2k / (2k x^2k)
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2
                        * (1.0 / 252.0
                            - inv2
                                * (1.0 / 240.0 - inv2 * (1.0 / 132.0 - inv2 * 691.0 / 32760.0)))));
    acc + x.ln() - 0.5 * inv - series
}

/// ln(1 + e^x) without overflow or loss of precision.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// 1 / (1 + e^-x) without overflow.
pub fn logistic(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

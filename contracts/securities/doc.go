// Package securities holds what is known about the Ministry of Finance's
// government securities and the rules of their placement and servicing,
// so that the bus (before anything leaves) and the mock exchange and
// depository (when they answer) apply the same ones. Pure Go: no I/O, no
// clock (callers pass the time), no cgo.
//
// Public fact, from the exchange's and the depository's notices and
// custodians' market guides:
//   - the five instruments MEKKAM, MEOKAM, MEUKAM, MEUZHKAM, MEIKAM; face
//     value 100 tenge for MEKKAM, 1,000 tenge for the others;
//   - ISINs: KZ, nine characters, ISO 6166 check digit; prefixes KZK1
//     (MEKKAM), KZK2 (MEOKAM), KZKD (MEUKAM);
//   - trade codes: prefix, term in months, "_", issue number, with the
//     prefixes MKM, MOM, MUM (MKM012_0161, MOM060_0055, MUM240_0001);
//   - day bases actual/actual, 30/360, actual/365; coupon = face value ×
//     rate × day-basis fraction; coupons paid to holders on record one
//     business day before the payment date;
//   - the session: orders 09:00–12:00 Astana time (UTC+5), cut-off by
//     15:00; optional additional session 15:30–16:15, cut-off by 17:00;
//     settlement T+2, sometimes T+0;
//   - the auction: clean price in % of par to four decimals, or the coupon
//     rate; limit and market orders; market orders at most a set share
//     (0–100 %) of the volume, filled at the weighted-average price;
//     limit orders at or better than the cut-off filled at their own
//     price (or one cut-off price, per the terms), those at the cut-off
//     pro rata; invalid when no limit order is accepted.
//
// Köpir's assumption, where nothing public says:
//   - ISIN prefixes KZKA (MEUZHKAM) and KZKB (MEIKAM); trade-code prefixes
//     MUJ (MEUZHKAM) and MIM (MEIKAM);
//   - terms: MEKKAM 1–12 months, MEOKAM 13–60, MEUKAM and MEUZHKAM
//     61–360, MEIKAM 13–360 (short-, medium- and long-term read as up to
//     one year, up to five years, and longer);
//   - which variant each basis is: actual/actual ICMA, 30E/360 (Eurobond
//     basis), actual/365 fixed (reasons at Basis);
//   - rounding: exact arithmetic throughout, half up to the tiyn once at
//     the end of a payment, half up to 0.0001 % for averages and yields;
//   - the coupon schedule: counted back from maturity with an
//     end-of-month rule, short first period, payment on a non-business
//     day moved to the next business day without extra accrual
//     (Schedule);
//   - the order window is half-open (an order at 12:00:00 is late), the
//     cut-off deadline inclusive, and no cut-off while orders are taken;
//   - the auction's volumes are whole securities, market orders come
//     before orders at the cut-off, and pro rata is by largest remainder
//     with ties to the earlier order (Allocate);
//   - the discount yield formula for MEKKAM (DiscountYield).
//
// Not modelled: a Saturday declared a working day, the issuer's decision
// to declare a session failed, and yields of coupon bonds.
package securities

package domain

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kinshiphq/kinship/internal/validate"
)

// currencies are the active ISO 4217 currencies and their minor-unit
// exponents (digits after the decimal point). Funds, precious metals and
// codes being withdrawn are left out.
var currencies = map[string]int{
	// No minor unit.
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
	"UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	// Three decimals.
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	// Two decimals.
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2, "BAM": 2,
	"BBD": 2, "BDT": 2, "BMD": 2, "BND": 2, "BOB": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2,
	"BZD": 2, "CAD": 2, "CDF": 2, "CHF": 2, "CNY": 2, "COP": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2,
	"DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2,
	"GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2,
	"IDR": 2, "ILS": 2, "INR": 2, "IRR": 2, "JMD": 2, "KES": 2, "KGS": 2, "KHR": 2, "KPW": 2, "KYD": 2,
	"KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2,
	"MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2, "MZN": 2,
	"NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2,
	"PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2,
	"SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SYP": 2, "SZL": 2,
	"THB": 2, "TJS": 2, "TMT": 2, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "USD": 2,
	"UYU": 2, "UZS": 2, "VES": 2, "WST": 2, "XCD": 2, "YER": 2, "ZAR": 2, "ZMW": 2,
}

// CurrencyExponent returns the minor-unit exponent of an ISO 4217 code.
func CurrencyExponent(code string) (int, bool) {
	e, ok := currencies[code]
	return e, ok
}

// Currencies lists the known currency codes, sorted.
func Currencies() []string { return slices.Sorted(maps.Keys(currencies)) }

// MaxAmountMinor bounds one amount: 10^15 minor units (ten trillion euros).
const MaxAmountMinor int64 = 1_000_000_000_000_000

// Money is an amount in the minor unit of a currency. The zero Money (no
// currency) means "no value".
type Money struct {
	Currency string
	Minor    int64
}

// IsZero reports whether m is no value at all.
func (m Money) IsZero() bool { return m.Currency == "" && m.Minor == 0 }

// ValidateMoney checks an amount given under field (such as "value"): a
// known currency (upper-cased) and an amount from 0 (or 1 when positive
// is set) to MaxAmountMinor.
func ValidateMoney(field string, m Money, positive bool) (Money, validate.Errors) {
	var errs validate.Errors
	m.Currency = strings.ToUpper(strings.TrimSpace(m.Currency))
	if _, ok := currencies[m.Currency]; !ok {
		if m.Currency == "" {
			errs = append(errs, validate.Field(field+".currency_code", "is required"))
		} else {
			errs = append(errs, validate.Field(field+".currency_code", "is not an ISO 4217 currency code such as EUR"))
		}
	}
	switch {
	case m.Minor < 0:
		errs = append(errs, validate.Field(field+".amount_minor", "must not be negative"))
	case m.Minor == 0 && positive:
		errs = append(errs, validate.Field(field+".amount_minor", "must be more than 0"))
	case m.Minor > MaxAmountMinor:
		errs = append(errs, validate.Field(field+".amount_minor", "must be at most %d", MaxAmountMinor))
	}
	return m, errs
}

// FormatMinor writes an amount of minor units as a decimal in major units
// with the currency's exponent: 125050 EUR is "1250.50", 7 KWD "0.007".
func FormatMinor(minor int64, currency string) string {
	exp := currencies[currency]
	neg := minor < 0
	digits := strconv.FormatUint(absUint(minor), 10)
	if exp > 0 {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

func absUint(n int64) uint64 {
	if n < 0 {
		return uint64(-(n + 1)) + 1
	}
	return uint64(n)
}

// ErrOverflow means a sum left the range of int64 minor units.
var ErrOverflow = errors.New("sum exceeds the largest amount that can be represented")

// Totals are sums per currency; they are never converted into each other.
type Totals map[string]int64

// Add adds amount to the currency's sum, refusing to overflow.
func (t Totals) Add(currency string, amount int64) error {
	sum := t[currency]
	if (amount > 0 && sum > (1<<63-1)-amount) || (amount < 0 && sum < -(1<<63-1)-1-amount) {
		return fmt.Errorf("%s: %w", currency, ErrOverflow)
	}
	t[currency] = sum + amount
	return nil
}

// AddAll adds every sum of o.
func (t Totals) AddAll(o Totals) error {
	for c, v := range o {
		if err := t.Add(c, v); err != nil {
			return err
		}
	}
	return nil
}

// Sorted returns the sums by currency code.
func (t Totals) Sorted() []Money {
	out := make([]Money, 0, len(t))
	for _, c := range slices.Sorted(maps.Keys(t)) {
		out = append(out, Money{Currency: c, Minor: t[c]})
	}
	return out
}

package telemetry

import "strings"

// promUnits are the unit suffixes the Prometheus exporter adds; units in
// braces ({message}) are annotations and add none.
func promUnits() map[string]string {
	return map[string]string{"s": "_seconds", "ms": "_milliseconds", "By": "_bytes", "1": "_ratio"}
}

// PrometheusName is the name m's series carry when scraped: dots become
// underscores, the unit is appended and counters end in _total.
// Histograms add _bucket, _sum and _count to it.
func (m Metric) PrometheusName() string {
	if m.Prometheus != "" {
		return m.Prometheus
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == ':':
			return r
		}
		return '_'
	}, m.Name)
	if m.Kind == Counter {
		name = strings.TrimSuffix(name, "_total")
	}
	if m.Family {
		return name + "*"
	}
	if suffix, ok := promUnits()[m.Unit]; ok && !strings.HasSuffix(name, suffix) {
		name += suffix
	}
	if m.Kind == Counter {
		name += "_total"
	}
	return name
}

// PrometheusSeries are every series name m is scraped as.
func (m Metric) PrometheusSeries() []string {
	base := m.PrometheusName()
	if m.Kind == Histogram && !m.Family {
		return []string{base + "_bucket", base + "_sum", base + "_count"}
	}
	return []string{base}
}

// Scraped returns the catalogue entry a scraped series name belongs to:
// one of the series of a metric, or a name of a family's prefix.
func Scraped(series string) (Metric, bool) {
	for _, m := range Catalogue() {
		if m.Family {
			if strings.HasPrefix(series, strings.TrimSuffix(m.PrometheusName(), "*")) {
				return m, true
			}
			continue
		}
		for _, s := range m.PrometheusSeries() {
			if s == series {
				return m, true
			}
		}
	}
	return Metric{}, false
}

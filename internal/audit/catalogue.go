package audit

import (
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Catalogue says, for every procedure of a service that changes data, the
// audit actions a successful call records (one or more, such as
// "webhook.deleted"). It is written beside the service's policy table;
// audittest.CheckCovered fails when a mutating procedure is missing, so a
// new RPC cannot change data without leaving an entry.
type Catalogue map[string][]string

// Mutating returns the procedures of services that may change data: every
// method not marked `option idempotency_level = NO_SIDE_EFFECTS`.
func Mutating(services ...protoreflect.ServiceDescriptor) []string {
	var out []string
	for _, svc := range services {
		methods := svc.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			if opts, ok := m.Options().(*descriptorpb.MethodOptions); ok && opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS {
				continue
			}
			out = append(out, "/"+string(svc.FullName())+"/"+string(m.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// Missing returns the mutating procedures of services that c does not
// name, and the entries of c naming no mutating procedure of services.
func (c Catalogue) Missing(services ...protoreflect.ServiceDescriptor) (missing, stale []string) {
	mutating := map[string]bool{}
	for _, p := range Mutating(services...) {
		mutating[p] = true
		if len(c[p]) == 0 {
			missing = append(missing, p)
		}
	}
	for p := range c {
		if !mutating[p] {
			stale = append(stale, p)
		}
	}
	sort.Strings(stale)
	return missing, stale
}

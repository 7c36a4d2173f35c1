package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// dialer resolves a destination, checks every address it resolves to and
// dials only checked addresses; the socket's control hook checks the
// address once more right before connecting, so no path to an unchecked
// address exists.
type dialer struct {
	policy   Policy
	resolver Resolver
	net      net.Dialer
}

// nameAllowedKey marks a dial whose host name the allow-list names: any
// address it resolves to may be reached.
type nameAllowedKey struct{}

func (d *dialer) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("outbound: network %q: %w", network, ErrNotAllowed)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if d.policy.AllowsHost(host) {
		ctx = context.WithValue(ctx, nameAllowedKey{}, true)
	} else if err := d.policy.CheckHost(host); err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		if addrs, err = d.resolver.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, fmt.Errorf("resolve: %w", err)
		}
		if len(addrs) == 0 {
			return nil, errors.New("resolve: no addresses")
		}
	}
	if ctx.Value(nameAllowedKey{}) == nil {
		// One internal address among public ones refuses the whole
		// name: no public service resolves into a private network.
		for _, a := range addrs {
			if err := d.policy.CheckAddr(a); err != nil {
				return nil, err
			}
		}
	}
	var errs []error
	for _, a := range addrs {
		conn, err := d.net.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		if errors.Is(err, ErrNotAllowed) {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// control runs on every socket right before it connects, with the address
// it connects to.
func (d *dialer) control(ctx context.Context, _, address string, _ syscall.RawConn) error {
	if ctx.Value(nameAllowedKey{}) != nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("outbound: dialling %q: %w", address, ErrNotAllowed)
	}
	return d.policy.CheckAddr(ap.Addr())
}

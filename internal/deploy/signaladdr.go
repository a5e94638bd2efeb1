package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// SignalAddress is where a Receiver listens and the URL it hands the
// nodes, as ResolveSignalAddress decides them.
type SignalAddress struct {
	// Listen is the address to listen on (host:port; port 0 is any free
	// port).
	Listen string
	// BaseURL is the URL the nodes reach the receiver by; empty means
	// http://<the listening address>.
	BaseURL string
	// AdvertiseHost, when set (and BaseURL empty), is the host the nodes
	// reach the receiver by, with the port it listens on: Listen is a
	// wildcard (":8991", "0.0.0.0:8991") that nodes cannot dial.
	AdvertiseHost string
	// Derived says that the host was derived from the route to Heat
	// rather than given.
	Derived bool
}

// Route returns the local address this host uses to reach hostport
// (host:port) and the remote address it resolved to. RouteTo is the real
// one; tests pass another to play a host with other interfaces.
type Route func(ctx context.Context, hostport string) (local, remote net.IP, err error)

// RouteTo asks the kernel which source address reaches hostport: a UDP
// "dial" picks the route and sends nothing. Name resolution is bounded by
// ctx and at most 5 seconds.
func RouteTo(ctx context.Context, hostport string) (local, remote net.IP, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", hostport)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP, conn.RemoteAddr().(*net.UDPAddr).IP, nil
}

// ResolveSignalAddress decides where the signal receiver listens and the
// URL the nodes are given, from --signal-listen (listen; empty: derive),
// --signal-url (baseURL) and the Heat endpoint the undercloud talks to.
//
// The nodes must reach the URL. The Heat endpoint is the one address known
// to be on the network the undercloud shares with them, so:
//   - listen empty: listen on the local address that routes to Heat, any
//     free port (127.0.0.1:0 when Heat itself is on loopback: an
//     all-in-one test host);
//   - listen a wildcard (":8991", "0.0.0.0:8991", "[::]:8991"): listen on
//     it, and advertise the local address that routes to Heat;
//   - a loopback listen address or signal URL while Heat is not on
//     loopback is refused: the nodes would be handed a URL they cannot
//     reach, and every delivery would wait out its timeout.
func (e signalAddrError) Unwrap() error      { return e.error }
func (signalAddrError) Is(target error) bool { return target == ErrSignalAddress }

func signalAddrErr(err error) error { return signalAddrError{err} }

func ResolveSignalAddress(ctx context.Context, listen, baseURL, heatEndpoint string, route Route) (SignalAddress, error) {
	if route == nil {
		route = RouteTo
	}
	hostport, err := endpointHostPort(heatEndpoint)
	if err != nil {
		return SignalAddress{}, err
	}
	local, remote, err := route(ctx, hostport)
	if err != nil {
		return SignalAddress{}, signalAddrErr(fmt.Errorf("deploy: signal receiver: find this host's address towards Heat at %s: %w (give the address the servers reach)", hostport, err))
	}
	heatLocal := remote.IsLoopback()
	out := SignalAddress{Listen: listen, BaseURL: strings.TrimSuffix(baseURL, "/")}
	if baseURL != "" {
		u, err := url.Parse(baseURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return SignalAddress{}, signalAddrErr(fmt.Errorf("deploy: signal URL %q is not an http(s)://HOST[:PORT] URL", baseURL))
		}
		if isLoopbackHost(u.Hostname()) && !heatLocal {
			return SignalAddress{}, signalAddrErr(fmt.Errorf("deploy: signal URL %s is a loopback address, but Heat is at %s: the servers cannot reach it; give the URL the servers reach this host by (this host reaches Heat from %s)", baseURL, hostport, local))
		}
		if out.Listen == "" {
			out.Listen = DefaultSignalListen
		}
		return out, nil
	}
	if listen == "" {
		out.Listen = net.JoinHostPort(local.String(), "0")
		out.Derived = !heatLocal
		if heatLocal {
			out.Listen = DefaultSignalListen
		}
		return out, nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return SignalAddress{}, signalAddrErr(fmt.Errorf("deploy: signal listen address %q is not HOST:PORT: %w", listen, err))
	}
	switch {
	case host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified():
		out.AdvertiseHost, out.Derived = local.String(), true
	case isLoopbackHost(host) && !heatLocal:
		return SignalAddress{}, signalAddrErr(fmt.Errorf("deploy: signal listen address %s is a loopback address, but Heat is at %s: the servers could not reach the signal URLs; listen on the address they reach (this host reaches Heat from %s: listen on %s), or give the signal URL they reach this host by", listen, hostport, local, net.JoinHostPort(local.String(), "8991")))
	}
	return out, nil
}

// endpointHostPort is the host:port of a service endpoint URL, with the
// scheme's port when it has none.
func endpointHostPort(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("deploy: signal receiver: the Heat endpoint %q is not a URL: check the orchestration endpoint in the catalog", endpoint)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// ErrSignalAddress marks an error in the signal receiver's address: a
// listen address or signal URL the servers cannot reach, or one this host
// cannot listen on. Its text says which address and why.
var ErrSignalAddress = errors.New("deploy: the signal receiver's address")

type signalAddrError struct{ error }

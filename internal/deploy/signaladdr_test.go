package deploy

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

// fakeRoute plays a host whose address towards any non-loopback Heat is
// 192.168.24.1 (an undercloud's ctlplane); loopback Heat is reached from
// 127.0.0.1. It stands in for the kernel's routing table, which a test
// host cannot be given.
func fakeRoute(_ context.Context, hostport string) (net.IP, net.IP, error) {
	host, _, _ := net.SplitHostPort(hostport)
	switch host {
	case "localhost":
		return net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.1"), nil
	case "unroutable.example":
		return nil, nil, errors.New("no such host")
	}
	ip := net.ParseIP(host)
	if ip == nil {
		ip = net.ParseIP("192.168.24.2") // a name: resolves to the undercloud VIP
	}
	if ip.IsLoopback() {
		return ip, ip, nil
	}
	return net.ParseIP("192.168.24.1"), ip, nil
}

func TestResolveSignalAddress(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		listen, url, endpoint string
		want                  SignalAddress
		wantErr               string
	}{
		{name: "all on one host keeps loopback", endpoint: "http://127.0.0.1:8004/v1/p",
			want: SignalAddress{Listen: "127.0.0.1:0"}},
		{name: "localhost heat keeps loopback", endpoint: "http://localhost:8004/v1/p",
			want: SignalAddress{Listen: "127.0.0.1:0"}},
		{name: "loopback listen with loopback heat", listen: "127.0.0.1:8991", endpoint: "http://127.0.0.1:8004/v1/p",
			want: SignalAddress{Listen: "127.0.0.1:8991"}},
		{name: "undercloud derives the ctlplane address", endpoint: "http://192.168.24.2:8004/v1/p",
			want: SignalAddress{Listen: "192.168.24.1:0", Derived: true}},
		{name: "heat by name, https default port", endpoint: "https://undercloud.ctlplane.example/orchestration/v1/p",
			want: SignalAddress{Listen: "192.168.24.1:0", Derived: true}},
		{name: "explicit routable listen kept", listen: "192.168.24.1:8991", endpoint: "http://192.168.24.2:8004/v1/p",
			want: SignalAddress{Listen: "192.168.24.1:8991"}},
		{name: "wildcard listen advertises the route", listen: ":8991", endpoint: "http://192.168.24.2:8004/v1/p",
			want: SignalAddress{Listen: ":8991", AdvertiseHost: "192.168.24.1", Derived: true}},
		{name: "0.0.0.0 listen advertises the route", listen: "0.0.0.0:8991", endpoint: "http://192.168.24.2:8004/v1/p",
			want: SignalAddress{Listen: "0.0.0.0:8991", AdvertiseHost: "192.168.24.1", Derived: true}},
		{name: "loopback listen refused for remote heat", listen: "127.0.0.1:8991", endpoint: "http://192.168.24.2:8004/v1/p",
			wantErr: "signal listen address 127.0.0.1:8991 is a loopback address, but Heat is at 192.168.24.2:8004"},
		{name: "localhost listen refused for remote heat", listen: "localhost:8991", endpoint: "http://192.168.24.2:8004/v1/p",
			wantErr: "listen on 192.168.24.1:8991"},
		{name: "loopback url refused for remote heat", url: "http://127.0.0.1:8991", endpoint: "http://192.168.24.2:8004/v1/p",
			wantErr: "signal URL http://127.0.0.1:8991 is a loopback address"},
		{name: "proxy url with default listen", url: "https://undercloud.example:13991/", endpoint: "http://192.168.24.2:8004/v1/p",
			want: SignalAddress{Listen: "127.0.0.1:0", BaseURL: "https://undercloud.example:13991"}},
		{name: "url with explicit listen", listen: "127.0.0.1:8991", url: "http://192.168.24.1:8991", endpoint: "http://192.168.24.2:8004/v1/p",
			want: SignalAddress{Listen: "127.0.0.1:8991", BaseURL: "http://192.168.24.1:8991"}},
		{name: "url that is not a URL", url: "undercloud:8991", endpoint: "http://192.168.24.2:8004/v1/p",
			wantErr: `signal URL "undercloud:8991" is not an http(s)://HOST[:PORT] URL`},
		{name: "listen that is not host:port", listen: "192.168.24.1", endpoint: "http://192.168.24.2:8004/v1/p",
			wantErr: `signal listen address "192.168.24.1" is not HOST:PORT`},
		{name: "no route to heat", endpoint: "http://unroutable.example:8004/v1/p",
			wantErr: "give the address the servers reach"},
		{name: "no endpoint", endpoint: "",
			wantErr: "the Heat endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveSignalAddress(context.Background(), tc.listen, tc.url, tc.endpoint, fakeRoute)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				// The CLI adds --signal-listen/--signal-url to these.
				if tc.endpoint != "" && !errors.Is(err, ErrSignalAddress) {
					t.Fatalf("err = %v, want ErrSignalAddress", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestRouteToLoopback uses the real routing table: a loopback Heat is
// reached from loopback, which keeps the all-on-one-host default.
func TestRouteToLoopback(t *testing.T) {
	got, err := ResolveSignalAddress(context.Background(), "", "", "http://127.0.0.1:8004/v1/p", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Listen != DefaultSignalListen || got.Derived {
		t.Fatalf("got %+v", got)
	}
}

// TestReceiverAdvertiseHost: a wildcard listener hands out the advertised
// host with the port it got.
func TestReceiverAdvertiseHost(t *testing.T) {
	r, err := NewReceiver(nil, ReceiverOptions{Listen: "127.0.0.1:0", AdvertiseHost: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, port, _ := net.SplitHostPort(r.Addr())
	if want := "http://192.0.2.7:" + port; r.BaseURL() != want {
		t.Fatalf("base %s, want %s", r.BaseURL(), want)
	}
	s := r.Register("ctl-0", "srv-0")
	if !strings.HasPrefix(s.URL, r.BaseURL()+"/signal/") {
		t.Fatalf("url %s", s.URL)
	}
}

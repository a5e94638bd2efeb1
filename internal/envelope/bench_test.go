package envelope

import (
	"testing"
	"time"

	"filippo.io/age"
)

// BenchmarkSeal seals a 3-key set to one node.
func BenchmarkSeal(b *testing.B) {
	signer, id := newSignerT(b), newIdentity(b)
	set := testSet(b, 2)
	r := id.Recipient()
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		if _, err := Seal(set, 3, "controller-0", r, signer); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens (decrypts, verifies, validates) one envelope.
func BenchmarkOpen(b *testing.B) {
	signer, id := newSignerT(b), newIdentity(b)
	set := testSet(b, 2)
	env, err := Seal(set, 3, "controller-0", id.Recipient(), signer)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		if _, err := Open(env, id, signer.Public(), "controller-0"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeal1000Nodes seals one set to 1,000 nodes, as a rotation of a
// 1,000-node fleet does; ns/op is for the whole fleet.
func BenchmarkSeal1000Nodes(b *testing.B) {
	signer := newSignerT(b)
	set := testSet(b, 2)
	rs := make([]*age.X25519Recipient, 1000)
	for i := range rs {
		rs[i] = newIdentity(b).Recipient()
	}
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		for i, r := range rs {
			if _, err := Seal(set, 3, serverName(i), r, signer); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func serverName(i int) string {
	const digits = "0123456789"
	return "controller-" + string(digits[i/100%10]) + string(digits[i/10%10]) + string(digits[i%10])
}

// BenchmarkSealOpen is the per-node cost of a rotation: seal on the
// undercloud plus open on the node. Target: under 1 ms.
func BenchmarkSealOpen(b *testing.B) {
	signer, id := newSignerT(b), newIdentity(b)
	set := testSet(b, 2)
	r := id.Recipient()
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		env, err := Seal(set, 3, "controller-0", r, signer)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Open(env, id, signer.Public(), "controller-0"); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

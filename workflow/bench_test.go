package workflow

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chainYAML is a chain of n std.noop tasks.
func chainYAML(n int) string {
	var b strings.Builder
	b.WriteString("version: '2.0'\nchain:\n  tasks:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "    t%d:\n      action: std.noop\n", i)
		if i+1 < n {
			fmt.Fprintf(&b, "      on-success: t%d\n", i+1)
		}
	}
	return b.String()
}

const itemsYAML = `version: '2.0'
items:
  input: [items]
  output: {n: <% len($.r) %>}
  tasks:
    each:
      with-items: i in <% $.items %>
      concurrency: 50
      action: std.echo output=<% $.i %>
      publish: {r: <% task().result %>}
`

// itemsJinjaYAML is itemsYAML with Jinja expressions, which cost more to
// parse than YAQL's.
const itemsJinjaYAML = `version: '2.0'
items:
  input: [vals]
  output: {n: "{{ _.r | length }}"}
  tasks:
    each:
      with-items: i in {{ _.vals }}
      concurrency: 50
      action: std.echo
      input:
        output: "{{ _.i * 2 if _.i is number else _.i | upper }}"
      publish: {r: "{{ task().result }}"}
`

// peakHeap samples the heap while fn runs and returns the peak in bytes.
func peakHeap(fn func()) uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// BenchmarkChain100Noop measures the engine's overhead per task: a chain
// of 100 std.noop tasks, reported as µs/task.
func BenchmarkChain100Noop(b *testing.B) {
	f, err := Load("chain.yaml", []byte(chainYAML(100)), StdRegistry())
	if err != nil {
		b.Fatal(err)
	}
	e := &Engine{Registry: StdRegistry(), File: f}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ex, err := e.Run(context.Background(), f.Workflows[0], nil)
		if err != nil || ex.State != Success {
			b.Fatalf("%v %v", err, ex)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/100, "µs/task")
}

// BenchmarkWithItems10000 runs with-items over 10,000 items at
// concurrency 50 and reports the peak heap.
func BenchmarkWithItems10000(b *testing.B) {
	f, err := Load("items.yaml", []byte(itemsYAML), StdRegistry())
	if err != nil {
		b.Fatal(err)
	}
	items := make([]any, 10000)
	for i := range items {
		items[i] = int64(i)
	}
	e := &Engine{Registry: StdRegistry(), File: f}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	peak := peakHeap(func() {
		for i := 0; i < b.N; i++ {
			ex, err := e.Run(context.Background(), f.Workflows[0], map[string]any{"items": items})
			if err != nil || ex.State != Success || ex.Output["n"] != int64(10000) {
				b.Fatalf("%v %v", err, ex.StateInfo)
			}
		}
	})
	b.ReportMetric(float64(peak)/(1<<20), "MB-peak-heap")
}

// BenchmarkWithItemsJinja1000 runs with-items over 1,000 items whose
// input and publish are Jinja expressions: the cost of evaluating (and
// parsing) an expression once an item.
func BenchmarkWithItemsJinja1000(b *testing.B) {
	f, err := Load("items.yaml", []byte(itemsJinjaYAML), StdRegistry())
	if err != nil {
		b.Fatal(err)
	}
	items := make([]any, 1000)
	for i := range items {
		items[i] = int64(i)
	}
	e := &Engine{Registry: StdRegistry(), File: f}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ex, err := e.Run(context.Background(), f.Workflows[0], map[string]any{"vals": items})
		if err != nil || ex.State != Success || ex.Output["n"] != int64(1000) {
			b.Fatalf("%v %v %v", err, ex.StateInfo, ex.Output)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "µs/item")
}

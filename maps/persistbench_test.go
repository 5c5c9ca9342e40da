package maps

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkPersistFirstPacket reports the first packet of a flow of a
// persistent service, by both methods of BenchmarkSchedFirstPacket
// (single: repeat=1 calls, overhead subtracted, caches cold; warm:
// newFlowProgram batches), against rr without persistence (rr) on the
// same sequence of benchReals reals:
//   - persist_host: persistence by host (/32); every new flow comes from
//     a new client address, so it misses the template table, schedules
//     and inserts a template besides the connection entry;
//   - persist_hit: persistence by /16; all the benchmark's clients
//     (198.19.0.0/16) share one template, so a new flow is decided by it
//     (a lookup and the real's checks, no scheduling).
func BenchmarkPersistFirstPacket(b *testing.B) {
	fx := loadFixtures(b)
	ref := loadReferences(b)
	d := benchDataplane(b, Options{}, benchReals)
	var seq []uint32
	for id := uint32(1); id <= benchReals; id++ {
		seq = append(seq, id)
	}
	vip := netip.MustParseAddr("198.18.0.100")
	for _, s := range []struct {
		port uint16
		svc  Service
	}{
		{8085, Service{ID: 4, Kind: KindDR, Scheduler: SchedRR, Persist: 360 * time.Second}},
		{8086, Service{ID: 5, Kind: KindDR, Scheduler: SchedRR, Persist: 360 * time.Second, PersistPrefix: 16}},
		{8087, Service{ID: 6, Kind: KindDR, Scheduler: SchedRR}},
	} {
		if err := d.SwapSequence(s.svc.ID, seq); err != nil {
			b.Fatal(err)
		}
		s.svc.TableSize = uint32(len(seq))
		if err := d.PutService(ServiceKey{Addr: vip, Port: s.port, Proto: unix.IPPROTO_TCP}, s.svc); err != nil {
			b.Fatal(err)
		}
	}
	in := fx["tcp_vip_tx"].In
	runFirstPackets(b, d, ref, in, []firstPacketCase{
		{"rr", withDport(in, 8087)},
		{"persist_host", withDport(in, 8085)},
		{"persist_hit", withDport(in, 8086)},
	})
}

package proxy

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// udpListener relays datagrams on one address. Each client address is a flow with its own
// socket connected to one endpoint; answers go back to the client from the service address. A
// flow ends after the idle timeout, when its endpoint refuses (ICMP port unreachable), or when its
// endpoint leaves the balancer; the client's next datagram then starts a new flow.
type udpListener struct {
	key  listenKey
	conn *net.UDPConn
	bal  atomic.Pointer[balancer]

	mu    sync.Mutex // guards flows
	flows map[netip.AddrPort]*udpFlow
}

type udpFlow struct {
	client   netip.AddrPort
	endpoint netip.AddrPort
	conn     *net.UDPConn
	last     atomic.Int64 // unix nanos of the last datagram either way
}

func (p *Proxy) listenUDP(key listenKey) (*udpListener, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(key.addr))
	if err != nil {
		return nil, err
	}
	return &udpListener{key: key, conn: c, flows: map[netip.AddrPort]*udpFlow{}}, nil
}

func (l *udpListener) setBalancer(b *balancer) { l.bal.Store(b) }

// close stops the listener and ends its flows.
func (l *udpListener) close() error {
	err := l.conn.Close()
	l.mu.Lock()
	for _, f := range l.flows {
		f.conn.Close()
	}
	l.mu.Unlock()
	return err
}

// serveUDP reads datagrams until the listener is closed.
func (p *Proxy) serveUDP(l *udpListener) {
	buf := make([]byte, 64*1024)
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		f := p.flowFor(l, from)
		if f == nil {
			p.stats.rejected.Add(1)
			l.bal.Load().countRejected()
			continue // no endpoint: the datagram is dropped, as UDP allows
		}
		f.last.Store(time.Now().UnixNano())
		if _, err := f.conn.Write(buf[:n]); err != nil {
			l.endFlow(f)
		}
	}
}

// flowFor returns the client's flow, starting one if it has none or its endpoint is no longer
// in rotation.
func (p *Proxy) flowFor(l *udpListener, client netip.AddrPort) *udpFlow {
	bal := l.bal.Load()
	l.mu.Lock()
	f := l.flows[client]
	l.mu.Unlock()
	if f != nil {
		if bal.state.Load().index[f.endpoint] {
			return f
		}
		l.endFlow(f)
	}
	var tried [maxDialAttempts]netip.AddrPort
	for n := 0; n < maxDialAttempts; n++ {
		ep, ok := bal.pick(client.Addr(), tried[:n])
		if !ok {
			return nil
		}
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ep))
		if err != nil {
			bal.countDialError(ep)
			tried[n] = ep
			continue
		}
		bal.count(ep)
		f = &udpFlow{client: client, endpoint: ep, conn: c}
		f.last.Store(time.Now().UnixNano())
		if !p.conns.add(c) {
			c.Close()
			return nil
		}
		l.mu.Lock()
		l.flows[client] = f
		l.mu.Unlock()
		go func() {
			defer p.conns.done(c)
			p.replies(l, f)
		}()
		return f
	}
	return nil
}

// replies relays the endpoint's datagrams back to the client until the flow ends.
func (p *Proxy) replies(l *udpListener, f *udpFlow) {
	defer l.endFlow(f)
	buf := make([]byte, 64*1024)
	idle := p.opts.UDPIdleTimeout
	for {
		_ = f.conn.SetReadDeadline(time.Unix(0, f.last.Load()).Add(idle))
		n, err := f.conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, f.last.Load())) < idle {
				continue // the client spoke since the deadline was set
			}
			return
		}
		f.last.Store(time.Now().UnixNano())
		if _, err := l.conn.WriteToUDPAddrPort(buf[:n], f.client); err != nil {
			return
		}
	}
}

func (l *udpListener) endFlow(f *udpFlow) {
	l.mu.Lock()
	if l.flows[f.client] == f {
		delete(l.flows, f.client)
	}
	l.mu.Unlock()
	f.conn.Close()
}

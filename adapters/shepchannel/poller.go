package shepchannel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/adapters/signing"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepasync"
	"github.com/minfin-kz/kopir/internal/units"
)

// PollConfig makes the channel fetch messages from the gateway with
// getMessages, for recipients the gateway does not push to.
type PollConfig struct {
	// Endpoint is the gateway's AsyncChannel URL.
	Endpoint    string   `yaml:"endpoint"`
	SenderID    string   `yaml:"senderId"`
	Password    string   `yaml:"password"`
	PasswordEnv string   `yaml:"passwordEnv"`
	ServiceIDs  []string `yaml:"serviceIds"`
	// Interval between polls when the last one found nothing (default 5s);
	// a full batch is followed by another poll at once.
	Interval units.Duration `yaml:"interval"`
	// Amount is the batch size asked for (default 10).
	Amount int `yaml:"amount"`
	// Timeout bounds one HTTP exchange (default 30s).
	Timeout units.Duration  `yaml:"timeout"`
	Signing *signing.Config `yaml:"signing"`
}

// Poller fetches messages for the configured services and acknowledges
// each with sendDeliveryNotification only once the intake has stored it
// (or refused it for good): a crash in between makes the gateway offer
// the message again, and the intake's de-duplication absorbs the repeat.
type Poller struct {
	c        *Channel
	endpoint string
	senders  []*egov.Sender // one per serviceId
	interval time.Duration
	amount   int
	timeout  time.Duration
	// transport is the core's layered transport to the endpoint, given at
	// provisioning; the poller makes no HTTP client of its own.
	transport adapters.Transport
}

// NewPoller checks the poll options.
func NewPoller(pc PollConfig, c *Channel) (*Poller, error) {
	switch {
	case pc.Endpoint == "":
		return nil, errors.New("endpoint is required")
	case len(pc.ServiceIDs) == 0:
		return nil, errors.New("serviceIds: at least one is required")
	}
	p := &Poller{c: c, endpoint: pc.Endpoint, interval: time.Duration(pc.Interval), amount: pc.Amount}
	if p.interval <= 0 {
		p.interval = 5 * time.Second
	}
	if p.amount <= 0 {
		p.amount = 10
	}
	timeout := time.Duration(pc.Timeout)
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	p.timeout = timeout
	for _, id := range pc.ServiceIDs {
		s, err := egov.NewSender(egov.Options{ServiceID: id, SenderID: pc.SenderID, Password: pc.Password, PasswordEnv: pc.PasswordEnv, Signing: pc.Signing})
		if err != nil {
			return nil, err
		}
		s.Now = c.now
		p.senders = append(p.senders, s)
	}
	return p, nil
}

func (p *Poller) provision(res adapters.Resources) error {
	if res.NewTransport == nil {
		return errors.New("the core gave no outbound transport")
	}
	// One try per poll: the next poll is the retry, and the gateway keeps
	// the messages meanwhile.
	t, err := res.NewTransport(adapters.TransportSpec{Endpoints: []string{p.endpoint}, Timeout: units.Duration(p.timeout),
		Retry: adapters.RetrySpec{Attempts: 1}, Name: "shep-poll"})
	if err != nil {
		return err
	}
	p.transport = t
	for _, s := range p.senders {
		if err := s.Provision(res); err != nil {
			return err
		}
	}
	return nil
}

// Run polls until ctx ends. A failed poll is logged and retried at the
// next interval; the gateway keeps the messages meanwhile.
func (p *Poller) Run(ctx context.Context, in adapters.Intake) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		full := false
		for _, s := range p.senders {
			n, err := p.Once(ctx, in, s)
			if err != nil && ctx.Err() == nil {
				p.c.Log.LogAttrs(ctx, slog.LevelWarn, "shep: getMessages failed", slog.String("serviceId", s.ServiceID), slog.String("err", short(err.Error())))
			}
			full = full || n >= p.amount
		}
		if full {
			t.Reset(0)
		} else {
			t.Reset(p.interval)
		}
	}
}

// Once fetches one batch for s's service and takes each message. It
// returns how many messages the gateway offered.
func (p *Poller) Once(ctx context.Context, in adapters.Intake, s *egov.Sender) (int, error) {
	env, err := shep.MarshalOp(shep.NSAsync, shep.OpGetMessages, "request", &shepasync.AsyncGetMessagesRequest{
		RequestDate: shep.XSDNow(p.c.now()), ServiceId: s.ServiceID, Amount: int32(p.amount),
		Sender: &shepasync.SenderInfo{SenderId: s.SenderID, Password: s.Password},
	})
	if err != nil {
		return 0, err
	}
	var got shep.InboundMessages
	if err := p.exchange(ctx, s, env, shep.OpGetMessages, &got); err != nil {
		return 0, err
	}
	for _, msg := range got.Messages {
		if msg == nil || msg.MessageInfo == nil {
			continue
		}
		receive, resend, einfo := p.take(ctx, in, msg)
		n := egov.DeliveryNotification(s, msg.MessageInfo.MessageId, receive, resend, einfo)
		nenv, err := shep.MarshalOp(shep.NSAsync, shep.OpSendDeliveryNotification, "request", n)
		if err == nil {
			var ack shepasync.AsyncSendDeliveryNotificationResponse
			err = p.exchange(ctx, s, nenv, shep.OpSendDeliveryNotification, &ack)
		}
		if err != nil {
			// Not acknowledged: the gateway offers it again and the
			// intake recognises the repeat.
			return len(got.Messages), fmt.Errorf("sendDeliveryNotification for %s: %w", msg.MessageInfo.MessageId, err)
		}
	}
	return len(got.Messages), nil
}

// take hands one polled message to the intake and says how to answer the
// gateway: accepted once stored; not accepted and not to be resent when
// refused for good (stored REJECTED); not accepted but resent when our
// side failed.
func (p *Poller) take(ctx context.Context, in adapters.Intake, msg *shep.InboundSendMessage) (receive, resend string, e *shepasync.ErrorInfo) {
	m := &adapters.Inbound{Channel: ChannelName}
	rf := validateAsyncSend(msg)
	var rc *adapters.Receipt
	if rf == nil {
		// A polled message comes from the gateway over its own
		// authenticated connection; the sender's password is not in it.
		rc, rf = p.c.take(ctx, in, m, msg, "", false)
	} else if mi := msg.MessageInfo; mi != nil {
		m.Key, m.ExternalID = mi.ServiceId, mi.MessageId
	}
	if rf == nil {
		p.c.Log.LogAttrs(ctx, slog.LevelInfo, "shep: polled message taken", append(p.c.attrs(m, rc.MessageID, correlationOf(m, rc.MessageID)), slog.Bool("duplicate", rc.Duplicate))...)
		return shep.ReceiveAccepted, shep.NotResend, nil
	}
	ei := &shepasync.ErrorInfo{ErrorCode: rf.code, ErrorMessage: rf.msg, ErrorDate: shep.XSDNow(p.c.now())}
	if rf.server {
		p.c.Log.LogAttrs(ctx, slog.LevelWarn, "shep: polled message not taken, the gateway offers it again", append(p.c.attrs(m, "", m.CorrelationID), slog.String("code", rf.code), slog.String("reason", short(rf.msg)))...)
		return shep.ReceiveNotAccepted, shep.Resend, ei
	}
	id := in.Reject(ctx, m, &adapters.RejectError{Code: rf.code, Reason: rf.msg})
	p.c.Log.LogAttrs(ctx, slog.LevelInfo, "shep: polled message refused", append(p.c.attrs(m, id, correlationOf(m, id)), slog.String("code", rf.code), slog.String("reason", short(rf.msg)))...)
	return shep.ReceiveNotAccepted, shep.NotResend, ei
}

func (p *Poller) exchange(ctx context.Context, s *egov.Sender, env []byte, op string, out any) error {
	if p.transport == nil {
		return errors.New("shep poller: not provisioned with a transport")
	}
	resp, err := s.Send(ctx, p.transport, env)
	if err != nil {
		return err
	}
	if int64(len(resp.Body)) > p.c.lim.MaxBytes {
		return fmt.Errorf("%s answer of %d bytes is over the %d-byte limit", op, len(resp.Body), p.c.lim.MaxBytes)
	}
	return s.DecodeOp(resp, op, out)
}

package serve_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"selfsup/serve"
)

// TestWebPageInChromium drives the web page in headless Chromium over the
// DevTools protocol: it puts an indexed image into the page's file input
// (DOM.setFileInputFiles, which fires the page's change handler as a user
// picking a file would), then waits until the neighbours are in the DOM
// and their thumbnails have loaded. It skips when no Chromium is
// installed (apt-get install chromium).
func TestWebPageInChromium(t *testing.T) {
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no chromium in PATH")
	}
	f := newFixture(t, 12)
	_, ts := f.start(t, serve.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The profile is removed here rather than by t.TempDir: Chromium's
	// helper processes may still be writing to it for a moment after the
	// browser exits, which made TempDir's cleanup fail now and then.
	profile, err := os.MkdirTemp("", "selfsup-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer removeEventually(t, profile)
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--remote-debugging-port=0", "--user-data-dir="+profile, "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// an interrupt lets Chromium shut its helper processes down; kill
		// it if it has not exited after a few seconds
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	wsURL := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`DevTools listening on (ws://\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				wsURL <- m[1]
			}
		}
	}()
	var endpoint string
	select {
	case endpoint = <-wsURL:
	case <-ctx.Done():
		t.Fatal("chromium did not start its DevTools endpoint")
	}
	cdp, err := dialCDP(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer cdp.conn.Close()
	go func() { <-ctx.Done(); cdp.conn.Close() }()

	var target struct{ TargetID string }
	if err := cdp.call("", "Target.createTarget", map[string]any{"url": ts.URL + "/"}, &target); err != nil {
		t.Fatal(err)
	}
	var att struct{ SessionID string }
	if err := cdp.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		t.Fatal(err)
	}
	page := att.SessionID
	eval := func(expr string, out any) error {
		var res struct {
			Result struct {
				Value json.RawMessage `json:"value"`
			} `json:"result"`
			ExceptionDetails any `json:"exceptionDetails"`
		}
		if err := cdp.call(page, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
			return err
		}
		if res.ExceptionDetails != nil {
			return fmt.Errorf("%s: %v", expr, res.ExceptionDetails)
		}
		return json.Unmarshal(res.Result.Value, out)
	}
	waitFor := func(what, expr string) {
		t.Helper()
		for {
			var ok bool
			if err := eval(expr, &ok); err == nil && ok {
				return
			}
			select {
			case <-ctx.Done():
				var dom string
				eval("document.body.innerText", &dom)
				t.Fatalf("timed out waiting for %s; the page says:\n%s", what, dom)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	waitFor("the page to load", `document.readyState === "complete" && document.getElementById("status").textContent.includes("12 images indexed")`)

	// "upload" an image: the file input gets a file, as when a user picks one
	var doc struct {
		Root struct{ NodeID int } `json:"root"`
	}
	if err := cdp.call(page, "DOM.getDocument", map[string]any{}, &doc); err != nil {
		t.Fatal(err)
	}
	var input struct{ NodeID int }
	if err := cdp.call(page, "DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": "#file"}, &input); err != nil || input.NodeID == 0 {
		t.Fatalf("file input not found: %v", err)
	}
	query := f.files[7]
	if err := cdp.call(page, "DOM.setFileInputFiles", map[string]any{"nodeId": input.NodeID, "files": []string{query}}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor("10 neighbours with loaded thumbnails", `(() => {
		const imgs = [...document.querySelectorAll("#results figure.hit img")];
		return imgs.length === 10 && imgs.every(i => i.complete && i.naturalWidth > 0);
	})()`)
	var hits []struct {
		Caption string `json:"caption"`
		Src     string `json:"src"`
		Width   int    `json:"width"`
	}
	if err := eval(`[...document.querySelectorAll("#results figure.hit")].map(f => ({
		caption: f.querySelector("figcaption").textContent,
		src: f.querySelector("img").getAttribute("src"),
		width: f.querySelector("img").naturalWidth}))`, &hits); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hits[0].Caption, query+" (1.000)") {
		t.Errorf("first neighbour %q, want the uploaded image itself, %s, with score 1", hits[0].Caption, query)
	}
	if hits[0].Src != "/thumb/"+url.PathEscape(query) || hits[0].Width != serve.DefaultThumbSize {
		t.Errorf("first thumbnail %s, %d pixels wide", hits[0].Src, hits[0].Width)
	}
	t.Logf("chromium shows %d neighbours, first %q", len(hits), hits[0].Caption)
}

// cdpClient speaks the Chrome DevTools protocol over a WebSocket, with a
// minimal client (RFC 6455: masked text frames out; text, continuation,
// ping and close frames in) so the test needs no extra module.
type cdpClient struct {
	conn net.Conn
	r    *bufio.Reader
	next int
}

func dialCDP(endpoint string) (*cdpClient, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key))
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %q %v", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			conn.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	return &cdpClient{conn: conn, r: r}, nil
}

func (c *cdpClient) writeText(p []byte) error {
	hdr := []byte{0x81}
	switch n := len(p); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	mask := make([]byte, 4)
	rand.Read(mask)
	hdr = append(hdr, mask...)
	body := make([]byte, len(p))
	for i, b := range p {
		body[i] = b ^ mask[i%4]
	}
	_, err := c.conn.Write(append(hdr, body...))
	return err
}

// readMessage returns the next complete text message.
func (c *cdpClient) readMessage() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		var mask [4]byte
		if h[1]&0x80 != 0 {
			io.ReadFull(c.r, mask[:])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return nil, err
		}
		if h[1]&0x80 != 0 {
			for i := range p {
				p[i] ^= mask[i%4]
			}
		}
		switch op {
		case 0x8:
			return nil, errors.New("websocket closed by chromium")
		case 0x9: // ping: answer with a pong
			c.conn.Write(append([]byte{0x8a, 0x80}, 0, 0, 0, 0))
			continue
		case 0xa:
			continue
		}
		msg = append(msg, p...)
		if fin {
			return msg, nil
		}
	}
}

// call sends one command (to a page session when session is set) and
// decodes its result into out, skipping the events that arrive meanwhile.
func (c *cdpClient) call(session, method string, params any, out any) error {
	c.next++
	id := c.next
	req := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		req["sessionId"] = session
	}
	b, _ := json.Marshal(req)
	if err := c.writeText(b); err != nil {
		return err
	}
	for {
		raw, err := c.readMessage()
		if err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &resp) != nil || resp.ID != id {
			continue // an event, or another reply
		}
		if resp.Error != nil {
			return fmt.Errorf("%s: %s", method, resp.Error.Message)
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(resp.Result, out)
	}
}

// removeEventually deletes dir, retrying for a few seconds while processes
// that are shutting down still write into it.
func removeEventually(t *testing.T, dir string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.RemoveAll(dir)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("could not remove the Chromium profile %s: %v", dir, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

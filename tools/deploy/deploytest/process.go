package deploytest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// process is one child process with its output in a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	exited  chan error
	logPath string
}

// startProcess runs bin with args and extra environment, its output in
// dir/name.log. The child dies with the test process.
func startProcess(dir, name, bin string, args, env []string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, exited: make(chan error, 1), logPath: logPath}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// waitReady polls ready until it returns nil, the process exits or the
// timeout passes; the error then carries the end of the process's log.
func (p *process) waitReady(ready func() error, timeout time.Duration) error {
	var last error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-p.exited:
			p.exited <- err
			return fmt.Errorf("%s exited at start (%v): %s", p.name, err, p.tail())
		default:
		}
		if last = ready(); last == nil {
			return nil
		}
	}
	return fmt.Errorf("%s was not ready within %v (%v): %s", p.name, timeout, last, p.tail())
}

// tail returns the last few KiB of the process's log.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.logPath)
	const n = 4 << 10
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// stop ends the process: SIGTERM, then SIGKILL after 10 s. Stopping a
// process that has exited does nothing.
func (p *process) stop() {
	select {
	case err := <-p.exited:
		p.exited <- err
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.exited <- err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		p.exited <- <-p.exited
	}
}

// dialable reports whether something accepts TCP connections at addr.
func dialable(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

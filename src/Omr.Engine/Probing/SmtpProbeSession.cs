using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine.Probing.Battery;
using Omr.Engine.Rules;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// Probes one address: greeting, EHLO (HELO fallback), STARTTLS, then the relay battery over one
    /// connection (RSET between tests, pipelined when offered: <see cref="PipelinedBattery"/>, otherwise
    /// <see cref="LockStepBattery"/>, both over one <see cref="BatteryState"/>), reconnecting when the server
    /// hangs up. Never sends DATA (only -Verify's one message does, in its own session).
    /// </summary>
    public sealed partial class SmtpProbeSession
    {
        private readonly ProbeAddress _target;
        private readonly ProbeSettings _settings;
        private readonly Transcript _transcript;
        private readonly ByteBudget _budget;
        private readonly ProbeFacts _facts = new ProbeFacts();
        /// <summary>Every distinct MAIL FROM / RCPT TO pair this address is tested with, shared by all its contexts.</summary>
        private readonly List<ProbeUnit> _units;
        /// <summary>The units by pair, once a second context joins (one context looks its few units up in the list).</summary>
        private Dictionary<(string MailFrom, string RcptTo), ProbeUnit>? _unitByPair;
        private readonly List<ProbeTargetContext> _contexts = new List<ProbeTargetContext>();
        private bool _plainOnly;
        private string? _banner;
        /// <summary>The first line of the first positive EHLO reply ("mx.example Hello probe [192.0.2.1]"), for the software rule.</summary>
        private string? _ehloLine;
        private TlsInfo? _tls;
        private string? _tlsNote;
        private string[] _extensions = Array.Empty<string>();
        private int _connections;
        /// <summary>What is pending, what awaits confirmation and what the server taught: shared by both batteries.</summary>
        private readonly BatteryState _battery;
        private PipelinedBattery? _pipelinedBattery;
        private LockStepBattery? _lockStepBattery;
        /// <summary>The next unit's id: ids stay unique when a battery is planned again (they tag transcript lines).</summary>
        private int _nextUnitId;

        public SmtpProbeSession(ProbeAddress target, ProbeSettings settings, Transcript? transcript = null)
        {
            _target = target;
            _settings = settings;
            _units = new List<ProbeUnit>(settings.Tests.Count);
            _transcript = transcript ?? new Transcript();
            _battery = new BatteryState(_transcript, _facts, settings.Tests.Count);
            _budget = new ByteBudget(settings.Limits.MaxBytesPerHost);
            _facts.Timeout = settings.Timeout;
            _facts.SlowReplyThreshold = settings.Limits.SlowReply;
            Primary = AddContext(target);
        }

        /// <summary>The context the session was created for.</summary>
        internal ProbeTargetContext Primary { get; }

        /// <summary>(domain, address, port) → relay tests to run first for a context.</summary>
        internal Func<string?, string, int, IReadOnlyCollection<string>?>? PreferredTests { get; set; }

        /// <summary>Bounds the connections open at once to this address (shared with other sessions to it), when set.</summary>
        internal SemaphoreSlim? AddressSlots { get; set; }

        public bool ImplicitTls => _settings.ImplicitTlsPorts.Contains(_target.Port);

        /// <summary>
        /// Another (domain, host) that leads to this address: it shares every test whose MAIL FROM and
        /// RCPT TO come out the same, and adds those that differ (the {domain} and {host} tests).
        /// </summary>
        internal ProbeTargetContext AddContext(ProbeAddress target)
        {
            var ctx = new ProbeTargetContext(target, _contexts.Count);
            _contexts.Add(ctx);
            if (_banner != null || _facts.Greeting != null) Expand(ctx);
            return ctx;
        }

        /// <summary>Tests still to run for the contexts added so far (after the greeting is known).</summary>
        internal bool HasPendingWork => _battery.Pending.Count > 0 || _contexts.Any(c => c.Units is null);

        /// <summary>True when a new context can still be tested on a fresh connection (the address took part in a session).</summary>
        internal bool CanTestMore
            => _facts.Connected && _facts.Greeting != null && _facts.Greeting.Code == 220 && _facts.TlsProblem is null
               && _facts.SessionRefusal is null && _facts.Failure != SmtpFailureKind.TooMuchData && _facts.Failure != SmtpFailureKind.OutOfStep;

        /// <summary>True when the greeting said 4xx (busy, too many connections) and nothing was tested yet: worth another try later.</summary>
        internal bool WasBusy
            => _battery.Completed == 0 && ((_facts.Greeting != null && _facts.Greeting.IsTransient)
               || (_facts.FailureMessage != null && _facts.FailureMessage.IndexOf("too many connections", StringComparison.OrdinalIgnoreCase) >= 0));

        /// <summary>Forgets a busy greeting so that the next run starts afresh.</summary>
        internal void ResetBusy(TimeSpan waited)
        {
            _transcript.Note($"the server was busy ({Transcript.Sanitize(_facts.Greeting?.ToString() ?? _facts.FailureMessage ?? "4xx")}); trying again after {waited.TotalSeconds:0.#} s");
            _facts.Greeting = null;
            _facts.ClearFailure();
        }

        /// <summary>Runs the battery and returns the result for this address (greylist retry included).</summary>
        public async Task<RelayTestResult> RunAsync(string probeId, CancellationToken ct)
        {
            await RunFirstAsync(ct).ConfigureAwait(false);
            if (NeedsGreylistRetry)
            {
                await Task.Delay(_settings.GreylistRetry, ct).ConfigureAwait(false);
                await RetryTemporaryAsync(ct).ConfigureAwait(false);
            }
            return BuildResult(probeId);
        }

        private DateTimeOffset? _start;

        /// <summary>The battery for every context added so far (again for contexts added since the last run).</summary>
        public async Task RunFirstAsync(CancellationToken ct)
        {
            _start ??= DateTimeOffset.UtcNow;
            _facts.ClearFailure();
            await RunBatteryAsync(ct).ConfigureAwait(false);
            await CheckForeignAsync(ct).ConfigureAwait(false);
        }

        /// <summary>True when -GreylistRetrySec is set, nothing was accepted and some tests got 4xx.</summary>
        public bool NeedsGreylistRetry
            => _settings.GreylistRetry > TimeSpan.Zero && !_facts.GreylistRetried && !_units.Any(u => u.Outcome?.Accepted == true) && _units.Any(u => IsTemporary(u.Outcome));

        /// <summary>Re-runs, once, the tests that got temporary refusals (the caller waits the delay).</summary>
        public async Task RetryTemporaryAsync(CancellationToken ct)
        {
            var again = _units.Where(u => IsTemporary(u.Outcome)).ToList();
            _transcript.Note($"greylist retry after {_settings.GreylistRetry.TotalSeconds:0.#} s: re-running {again.Count} test(s) that got 4xx");
            _battery.RetryTemporary(again);
            _facts.ClearFailure();
            _facts.GreylistRetried = true;
            await RunBatteryAsync(ct).ConfigureAwait(false);
        }

        private bool NeedsConnection => _battery.Pending.Count > 0 || _battery.Confirm != null || _contexts.Any(c => c.Units is null);

        private async Task RunBatteryAsync(CancellationToken ct)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(_settings.Timeout);
            var token = deadline.Token;
            while (NeedsConnection && _connections < _settings.MaxConnections)
            {
                bool gated = false;
                if (AddressSlots != null)
                {
                    try { await AddressSlots.WaitAsync(token).ConfigureAwait(false); }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        _facts.DeadlineReached = true;
                        _transcript.Note($"deadline of {_settings.Timeout.TotalSeconds:0.#} s reached while waiting for a connection slot to this address");
                        break;
                    }
                    gated = true;
                }
                try
                {
                    if (!await OneConnectionAsync(token, ct).ConfigureAwait(false)) break;
                }
                finally
                {
                    if (gated) AddressSlots!.Release();
                }
            }
            if (_battery.Confirm != null)
            {
                // The deadline or the connection bound ended the session before the confirmation:
                // an acceptance read from a pipelined group that was never confirmed is not counted.
                _battery.DiscardPipelined("the acceptance read from a pipelined group could not be confirmed one command at a time before the session ended");
            }
        }

        /// <summary>One connection's worth of the battery; false when the session cannot usefully go on.</summary>
        private async Task<bool> OneConnectionAsync(CancellationToken token, CancellationToken ct)
        {
            using var conn = new SmtpConnection(_transcript, _settings.Limits, _budget);
            Interlocked.Increment(ref _connections);
            int before = _battery.Completed;
            string stage = "connect";
            try
            {
                await conn.ConnectAsync(_target.Address, _target.Port, ImplicitTls, _target.Host, token).ConfigureAwait(false);
                _facts.Connected = true;
                if (_facts.ClientAddress is null && conn.LocalEndPoint is IPEndPoint local)
                    _facts.ClientAddress = Names.Plain(local.Address).ToString();
                stage = "greeting";
                if (!await OpenAsync(conn, token, s => stage = s).ConfigureAwait(false))
                    return false; // terminal: greeting refused, TLS problem, HELO refused...
                ExpandAll();
                stage = "MAIL";
                var next = _battery.Confirm != null
                    ? await LockStep.ConfirmAsync(conn, token, s => stage = s).ConfigureAwait(false)
                    : await BatteryAsync(conn, token, s => stage = s).ConfigureAwait(false);
                _facts.ClearFailure(); // this connection ended well: an earlier failure no longer describes the session
                if (next == Next.Stop || _facts.StoppedOnFirst) return false;
                if (next == Next.Reconnect && _battery.Completed == before && _battery.Confirm is null && !_battery.Rerun)
                    return false; // no progress on this connection: do not hammer the server
                _battery.Rerun = false;
                return true;
            }
            catch (SmtpSessionException ex)
            {
                _facts.Failure = ex.Kind;
                _facts.FailureMessage = ex.Message;
                _facts.FailureStage = stage;
                _facts.GreetingBytesSeen |= conn.GreetingBytesSeen;
                _facts.GreetingLineSeen |= conn.GreetingLineSeen;
                if (!_facts.Connected) _facts.ConnectTimedOut = ex.Message.StartsWith("no TCP connection", StringComparison.Ordinal);
                if (ex.Kind == SmtpFailureKind.TlsFailed && _settings.Tls == TlsMode.Auto && !ImplicitTls && !_plainOnly)
                {
                    _plainOnly = true;
                    _tlsNote = "STARTTLS offered but the handshake failed; tested in clear text";
                    _transcript.Note("reconnecting without TLS");
                    return true;
                }
                if (ex.Kind == SmtpFailureKind.TlsFailed)
                {
                    _facts.TlsProblem = "TLS is required but could not be established: " + ex.Message.TrimEnd('.') + ".";
                    return false;
                }
                bool midBattery = _facts.Greeting != null && _facts.Greeting.IsPositive && _units.Count > 0
                    && ex.Kind == SmtpFailureKind.ConnectionClosed;
                // Reconnect only when this connection made progress: a server that drops every
                // connection at the same point would otherwise be hammered until the deadline.
                if (!midBattery || (_battery.Completed == before && !_battery.Rerun)) return false;
                _battery.Rerun = false;
                _transcript.Note($"server hung up mid-battery; reconnecting to run the remaining {_battery.Pending.Count} test(s)");
                return true;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                _facts.DeadlineReached = true;
                _facts.FailureStage = stage;
                if (!_facts.Connected) _facts.FailureMessage = "no connection before the deadline";
                _facts.GreetingBytesSeen |= conn.GreetingBytesSeen;
                _transcript.Note($"deadline of {_settings.Timeout.TotalSeconds:0.#} s reached at {stage}");
                return false;
            }
            finally
            {
                if (conn.SlowestReply > _facts.SlowestReply) _facts.SlowestReply = conn.SlowestReply;
            }
        }

        /// <summary>Expands every context not expanded yet (the greeting names the host when none was given).</summary>
        private void ExpandAll()
        {
            foreach (var c in _contexts)
                if (c.Units is null) Expand(c);
        }

        /// <summary>The banner's first word (the server's own name, usually), without splitting the rest.</summary>
        private static string? FirstWord(string? banner)
        {
            if (banner is null) return null;
            int end = banner.IndexOf(' ');
            return end < 0 ? banner : banner.Substring(0, end);
        }

        private void Expand(ProbeTargetContext c)
        {
            var addr = _target.Address;
            addr = Names.Plain(addr);
            var literal = addr.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6:" + StripScope(addr) : addr.ToString();
            var host = c.Target.Host;
            if (host is null || IPAddress.TryParse(host.Trim('[', ']'), out _))
            {
                var word = FirstWord(_banner);
                host = word != null && Names.IsHostToken(word) ? word.TrimEnd('.') : "[" + literal + "]";
            }
            host = host.TrimEnd('.');
            var domain = c.Target.Domain?.TrimEnd('.') ?? Names.ParentDomain(host) ?? host;
            c.Context = ProbeBase().For(literal, host, domain);
            var expanded = RelayTestTemplates.ExpandAll(_settings.Tests, c.Context);
            var units = new ProbeUnit[expanded.Length];
            for (int i = 0; i < units.Length; i++)
            {
                var exp = expanded[i];
                var unit = FindUnit(exp.MailFrom, exp.RcptTo);
                if (unit is null)
                {
                    unit = new ProbeUnit(_nextUnitId++, exp);
                    _units.Add(unit);
                    _unitByPair?.Add((exp.MailFrom, exp.RcptTo), unit);
                    _battery.Pending.Add(unit);
                }
                units[i] = unit;
            }
            c.Units = units;
            var preferred = PreferredTests?.Invoke(c.Target.Domain, c.Target.Address.ToString(), c.Target.Port);
            if (preferred != null && preferred.Count > 0)
            {
                // The preferred tests run first: move their pending units to the front, in catalogue order.
                var pending = _battery.Pending;
                var first = units.Where(u => preferred.Contains(u.Name) && pending.Contains(u)).Distinct().ToList();
                if (first.Count > 0)
                {
                    foreach (var u in first) pending.Remove(u);
                    pending.InsertRange(0, first);
                    _transcript.Note($"tests that relayed last time run first: {string.Join(", ", first.Select(u => u.Name))}");
                }
            }
        }

        private ProbeUnit? FindUnit(string mailFrom, string rcptTo)
        {
            if (_unitByPair is null && _contexts.Count > 1)
            {
                _unitByPair = new Dictionary<(string, string), ProbeUnit>();
                foreach (var u in _units) _unitByPair[(u.MailFrom, u.RcptTo)] = u;
            }
            if (_unitByPair != null) return _unitByPair.TryGetValue((mailFrom, rcptTo), out var found) ? found : null;
            foreach (var u in _units)
                if (string.Equals(u.RcptTo, rcptTo, StringComparison.Ordinal) && string.Equals(u.MailFrom, mailFrom, StringComparison.Ordinal)) return u;
            return null;
        }

        private static string StripScope(IPAddress a)
        {
            var s = a.ToString();
            var pct = s.IndexOf('%');
            return pct < 0 ? s : s.Substring(0, pct);
        }

        /// <summary>The battery on this connection: pipelined when the server offers it and nothing forbids it, else one command at a time.</summary>
        private Task<Next> BatteryAsync(SmtpConnection conn, CancellationToken ct, Action<string> stage)
        {
            bool pipelining = !_battery.LockStep && !_settings.StopOnFirst && HasExtension("PIPELINING");
            return pipelining
                ? (_pipelinedBattery ??= new PipelinedBattery(_battery, _settings, _transcript)).RunAsync(conn, ct, stage)
                : LockStep.RunAsync(conn, ct, stage);
        }

        private LockStepBattery LockStep => _lockStepBattery ??= new LockStepBattery(_battery, _settings, _transcript, AddressSlots, OpenAnotherAsync);

        /// <summary>
        /// Another connection to the address, up to its battery (greeting, EHLO, STARTTLS): the second
        /// connection of a lock-step battery and the foreign-recipient check. Null when the server refused it.
        /// </summary>
        private async Task<SmtpConnection?> OpenAnotherAsync(CancellationToken ct)
        {
            var conn = new SmtpConnection(_transcript, _settings.Limits, _budget);
            Interlocked.Increment(ref _connections);
            try
            {
                await conn.ConnectAsync(_target.Address, _target.Port, ImplicitTls, _target.Host, ct).ConfigureAwait(false);
                if (await OpenAsync(conn, ct, _ => { }).ConfigureAwait(false)) return conn;
            }
            catch
            {
                conn.Dispose();
                throw;
            }
            conn.Dispose();
            return null;
        }
    }
}

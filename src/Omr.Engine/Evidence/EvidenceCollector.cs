using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using MimeKit;
using Omr.Engine.Probing;
using Omr.Engine.Rules;

namespace Omr.Engine.Evidence
{
    /// <summary>
    /// Finds the verification messages of a set of relay test results in a mail source (polling until
    /// every expected token arrived or the wait is over), matches them, writes the bundles and yields
    /// one <see cref="RelayEvidence"/> per input, always. Events are read from <see cref="Events"/>
    /// on the caller's thread.
    /// </summary>
    public sealed class EvidenceCollector : IDisposable
    {
        private readonly EvidenceRequest _request;
        private readonly Channel<EngineEvent> _events = Channel.CreateUnbounded<EngineEvent>(new UnboundedChannelOptions { SingleReader = true });
        private readonly List<FoundMessage> _found = new List<FoundMessage>();
        private IMailSource? _source;

        public EvidenceCollector(EvidenceRequest request)
        {
            _request = request ?? throw new ArgumentNullException(nameof(request));
        }

        public ChannelReader<EngineEvent> Events => _events.Reader;

        /// <summary>Messages found (after <see cref="RunAsync"/> completed).</summary>
        public IReadOnlyList<FoundMessage> Found => _found;

        public string? SourceDescription => _source?.Description;


        /// <summary>Starts the work on the thread pool; the events channel completes when it ends.</summary>
        public Task Start(CancellationToken ct) => Task.Run(() => RunAsync(ct), ct);

        public async Task RunAsync(CancellationToken ct)
        {
            try
            {
                await RunCoreAsync(ct).ConfigureAwait(false);
                _events.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                _events.Writer.TryComplete(ex);
            }
        }

        private void Emit(EngineEvent e)
        {
            // Every evidence object the engine answers with is minted as it is now: Send-RelayNotice believes it
            // without re-reading its bundle, unless its proof, identity or paths are edited afterwards.
            if (e is EvidenceResultEvent r) EvidenceRegistry.Mint(r.Evidence);
            _events.Writer.TryWrite(e);
        }

        private void Verbose(string message) => Emit(new EngineVerboseEvent(message));

        private async Task RunCoreAsync(CancellationToken ct)
        {
            var clock = _request.Clock;
            var pending = new Dictionary<string, List<(RelayTestResult Result, object? Input)>>(StringComparer.OrdinalIgnoreCase);
            foreach (var (result, input) in _request.Inputs)
            {
                var why = NotSearchable(result);
                if (why != null)
                {
                    Emit(new EvidenceResultEvent(NotDelivered(result, why, null), input));
                    continue;
                }
                if (!pending.TryGetValue(result.ProbeId, out var list)) pending[result.ProbeId] = list = new List<(RelayTestResult, object?)>();
                list.Add((result, input));
            }
            if (pending.Count == 0) return;
            if (_request.SourceFactory is null) throw new InvalidOperationException("No mail source.");

            var expected = pending.Count;
            var start = clock();
            var deadline = start + _request.Wait;
            var source = _source = _request.SourceFactory(new MailSourceMessages(Verbose, w => Emit(new EngineWarningEvent(w))));
            Verbose($"Looking for {expected} verification message(s) in {source.Description}{(_request.Wait > TimeSpan.Zero ? $", waiting up to {_request.Wait.TotalSeconds:0} s" : string.Empty)}.");
            string? failure = null;
            try
            {
                await source.OpenAsync(ct).ConfigureAwait(false);
            }
            catch (MailSourceException ex)
            {
                failure = Fail(ex, pending);
            }

            var scans = 0;
            while (failure is null && pending.Count > 0)
            {
                scans++;
                IReadOnlyList<MailItem> items;
                try
                {
                    items = await ScanWithRetryAsync(source, pending.Keys.ToList(), ct).ConfigureAwait(false);
                }
                catch (MailSourceException ex)
                {
                    failure = Fail(ex, pending);
                    break;
                }
                catch (Exception ex) when (IsMailFailure(ex, ct))
                {
                    failure = Fail(new MailSourceException(MailSourceErrorKind.Connect, $"Reading {source.Description} failed: {MailConnect.Describe(ex)}", ex), pending);
                    break;
                }

                foreach (var item in items)
                {
                    var match = ProbeMatcher.Match(item.Headers, pending.Keys.ToList());
                    if (match is null) continue;
                    byte[] raw;
                    try
                    {
                        raw = await source.FetchAsync(item, ct).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (IsMailFailure(ex, ct) || ex is InvalidDataException)
                    {
                        Emit(new EngineErrorEvent("MessageFetchFailed", EngineErrorCategory.ConnectionError,
                            $"Could not fetch the verification message for probe {match.ProbeId} from {source.Description}: {MailConnect.Describe(ex)}", pending[match.ProbeId][0].Input, ex));
                        continue;
                    }
                    Verbose($"Found the verification message for probe {match.ProbeId} (matched by {match.Kind}, {raw.Length} bytes).");
                    foreach (var (result, input) in pending[match.ProbeId])
                    {
                        var ev = Delivered(result, item, raw, match, source.Description);
                        _found.Add(new FoundMessage(item, ev));
                        Emit(new EvidenceResultEvent(ev, input));
                    }
                    pending.Remove(match.ProbeId);
                    if (pending.Count == 0) break;
                }
                if (pending.Count == 0) break;
                var now = clock();
                if (now >= deadline) break;
                var left = deadline - now;
                Emit(new EvidenceProgressEvent(expected - pending.Count, expected, (int)Math.Ceiling(left.TotalSeconds),
                    $"{expected - pending.Count} of {expected} verification messages found; waiting up to {left.TotalSeconds:0} s more"));
                var delay = left < _request.PollInterval ? left : _request.PollInterval;
                await Task.Delay(delay, ct).ConfigureAwait(false);
            }

            // The loop ends for a pending probe only at the deadline (or on a failure, which has its own reason):
            // report the wait that was honoured, not the wall clock, which a slow last scan stretches by a second or so.
            var waited = _request.Wait;
            foreach (var list in pending.Values)
            {
                foreach (var (result, input) in list)
                {
                    var reason = failure ?? NotFoundReason(result, source.Description, waited, scans);
                    Emit(new EvidenceResultEvent(NotDelivered(result, reason, source.Description), input));
                }
            }
        }

        private async Task<IReadOnlyList<MailItem>> ScanWithRetryAsync(IMailSource source, IReadOnlyCollection<string> ids, CancellationToken ct)
        {
            try
            {
                return await source.ScanAsync(ids, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsMailFailure(ex, ct) && !(ex is MailSourceException))
            {
                // One reconnect: connections drop while we wait.
                Verbose($"The mailbox connection failed ({MailConnect.Describe(ex)}); reconnecting once.");
                await source.OpenAsync(ct).ConfigureAwait(false);
                return await source.ScanAsync(ids, ct).ConfigureAwait(false);
            }
        }

        private static bool IsMailFailure(Exception ex, CancellationToken ct)
            => !(ex is OperationCanceledException && ct.IsCancellationRequested)
               && (ex is IOException || ex is MailKit.ProtocolException || ex is MailKit.CommandException || ex is System.Net.Sockets.SocketException
                   || ex is TimeoutException || ex is OperationCanceledException || ex is InvalidOperationException || ex is UnauthorizedAccessException
                   || ex is MailKit.ServiceNotConnectedException || ex is MailKit.ServiceNotAuthenticatedException || ex is MailKit.FolderNotOpenException);

        private string Fail(MailSourceException ex, Dictionary<string, List<(RelayTestResult Result, object? Input)>> pending)
        {
            var (id, category) = ex.Kind switch
            {
                MailSourceErrorKind.Authentication => ("MailboxAuthFailed", EngineErrorCategory.SecurityError),
                MailSourceErrorKind.FolderNotFound => ("MailboxFolderNotFound", EngineErrorCategory.ObjectNotFound),
                _ => ("MailboxConnectFailed", EngineErrorCategory.ConnectionError),
            };
            Emit(new EngineErrorEvent(id, category, ex.Message, _source?.Description, ex));
            return "the mailbox could not be read: " + ex.Message;
        }

        /// <summary>Why an input is not searched for, or null when it is.</summary>
        public static string? NotSearchable(RelayTestResult r)
        {
            if (r.Verdict != RelayVerdict.Open)
                return $"not an open relay (Verdict is {r.Verdict}): there is no verification message to look for";
            if (string.IsNullOrEmpty(r.VerificationMessageId) && r.ReasonCode == RelayReasonCode.RecipientLocal)
                return $"no verification message was sent (Proof is {r.Proof}): this server receives mail for the -VerifyAddress domain itself, so the message would prove nothing (ReasonCode RecipientLocal); prove it with a -VerifyAddress in a domain this server does not receive mail for";
            if (string.IsNullOrEmpty(r.VerificationMessageId))
                return $"no verification message was sent (Proof is {r.Proof}); run Test-OpenRelay -Verify -VerifyAddress <a mailbox you own> to send one";
            if (string.IsNullOrEmpty(r.ProbeId))
                return "the result has no ProbeId to match a message with";
            return null;
        }

        public static string NotFoundReason(RelayTestResult r, string where, TimeSpan waited, int scans)
        {
            var secs = Math.Max(0, (int)Math.Ceiling(waited.TotalSeconds));
            var when = secs == 0 ? $"(looked {(scans <= 1 ? "once" : scans.ToString(CultureInfo.InvariantCulture) + " times")}; use -WaitSec to wait for it)" : $"after waiting {secs.ToString(CultureInfo.InvariantCulture)} s";
            var head = $"not found in {where} {when}";
            if (r.Proof >= RelayProof.DataAccepted)
                return $"{head}; the server accepted DATA ({r.VerificationReply ?? "250"}) but the message never arrived: accept-then-discard, or still queued (try a longer -WaitSec)";
            return $"{head}; the verification message was not accepted ({r.VerificationReply ?? "no reply"})";
        }

        private static RelayEvidence Base(RelayTestResult r) => new RelayEvidence
        {
            Result = r,
            ProbeId = r.ProbeId,
            ComputerName = r.ComputerName,
            Address = r.Address,
            Port = r.Port,
            Domain = r.Domain,
            Proof = r.Proof,
        };

        private static RelayEvidence NotDelivered(RelayTestResult r, string reason, string? where)
        {
            if (r.Proof == RelayProof.Delivered)
            {
                // A (re-imported) result claiming Delivered whose message was not found here: a claim, not proof.
                var shown = EvidenceVerifier.Supported(r, RelayProof.DataAccepted);
                r = Copy(r);
                r.Proof = shown;
                reason += $"; the input claimed Proof Delivered, but the message was not found, so Proof is {shown}";
            }
            var ev = Base(r);
            ev.Delivered = false;
            ev.Reason = reason;
            ev.MailSource = where;
            return ev;
        }

        private RelayEvidence Delivered(RelayTestResult input, MailItem item, byte[] raw, ProbeMatch match, string where)
        {
            HeaderList headers;
            try { headers = MailConnect.ParseHeaders(raw); }
            catch (FormatException) { headers = item.Headers; }
            var hops = ReceivedChainParser.Parse(headers);
            var handOff = RelayHandOff.Decide(hops, input.Address, TestedNames(input), RelayHandOff.HeloOf(input.Transcript));
            if (!handOff.Relayed) return DeliveredLocally(input, item, headers, hops, match, where, handOff);

            var result = Copy(input);
            result.Proof = RelayProof.Delivered;
            // The result's reason said "Get-RelayEvidence finds out"; now it is found.
            // The reason states the strongest proof once: the weaker statements give way to "delivered".
            const string pending = " Get-RelayEvidence finds out whether it arrived.";
            var reason = result.Reason ?? string.Empty;
            if (reason.EndsWith(pending, StringComparison.Ordinal)) reason = reason.Substring(0, reason.Length - pending.Length);
            reason = reason.Replace(" " + Rules.ProofText.RecipientOnly, string.Empty);
            result.Reason = reason + " " + Rules.ProofText.Delivered(result.VerifyAddress);
            var ev = FoundEvidence(result, item, headers, hops, match, where);
            ev.Delivered = true;
            ev.Proof = RelayProof.Delivered;
            ev.HandOff = handOff.Hop;
            if (!ev.RelaySeen)
            {
                var byName = result.ComputerName != null && ev.Hops.Any(h =>
                    string.Equals(h.By, result.ComputerName, StringComparison.OrdinalIgnoreCase) || string.Equals(h.From, result.ComputerName, StringComparison.OrdinalIgnoreCase));
                ev.Reason = $"delivered, but the relay's address {result.Address ?? "(unknown)"} does not appear in the Received chain ({ev.Hops.Length} hops)"
                    + (byName ? $"; the host name {result.ComputerName} does" : string.Empty) + "; " + handOff.Explanation;
            }
            if (_request.OutputPath != null)
            {
                try
                {
                    var (folder, files) = EvidenceBundleWriter.Write(new EvidenceBundle { Evidence = ev, Message = raw, Headers = headers, Generated = _request.Clock() }, _request.OutputPath);
                    ev.BundlePath = folder;
                    ev.Files = files;
                    Verbose($"Wrote the evidence bundle {folder}.");
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is InvalidOperationException || ex is NotSupportedException)
                {
                    ev.BundlePath = null;
                    ev.Files = Array.Empty<string>();
                    Emit(new EngineErrorEvent("EvidenceWriteFailed", EngineErrorCategory.WriteError,
                        $"Could not write the evidence bundle for probe {result.ProbeId} under '{_request.OutputPath}': {MailConnect.Describe(ex)}", null, ex));
                }
            }
            return ev;
        }

        /// <summary>The names the tested server goes by: the name it was tested as, and the first word of its greeting.</summary>
        internal static IEnumerable<string?> TestedNames(RelayTestResult r)
        {
            yield return r.ComputerName;
            var banner = r.Banner?.Trim();
            if (!string.IsNullOrEmpty(banner))
            {
                var sp = banner!.IndexOf(' ');
                yield return sp < 0 ? banner : banner.Substring(0, sp);
            }
        }

        /// <summary>The evidence of a found message, before it is judged.</summary>
        private static RelayEvidence FoundEvidence(RelayTestResult result, MailItem item, HeaderList headers, ReceivedHop[] hops, ProbeMatch match, string where)
        {
            var ev = Base(result);
            ev.MatchedBy = match.Kind.ToString();
            ev.MailSource = where;
            ev.Hops = hops;
            var mid = headers[HeaderId.MessageId];
            ev.MessageId = mid is null ? null : ServerText.Sanitize(mid.Trim().TrimStart('<').TrimEnd('>'));
            var subject = headers[HeaderId.Subject];
            ev.Subject = subject is null ? null : ServerText.Sanitize(subject);
            ev.ReceivedAt = ev.Hops.Select(h => h.Timestamp).FirstOrDefault(t => t != null) ?? item.ArrivedAt;
            ev.RelaySeen = ReceivedChainParser.ChainShows(ev.Hops, result.Address);
            return ev;
        }

        /// <summary>
        /// The message arrived, but the tested server delivered it into the mailbox itself: it is the
        /// mailbox's own destination, so neither the message nor an acceptance of a recipient in the
        /// mailbox's domain proves relaying. No bundle is written: there is nothing to prove.
        /// </summary>
        private static RelayEvidence DeliveredLocally(RelayTestResult input, MailItem item, HeaderList headers, ReceivedHop[] hops, ProbeMatch match, string where, HandOffDecision handOff)
        {
            var result = Copy(input);
            var proof = LocalProof(result);
            result.Proof = proof;
            var why = $"the verification message arrived, but it is no proof of relaying: {handOff.Explanation}. A 250 for a recipient the server is responsible for is not relaying; Proof is {proof}";
            result.Reason = (result.Reason ?? string.Empty) + " (Get-RelayEvidence: " + why + ".)";
            var ev = FoundEvidence(result, item, headers, hops, match, where);
            ev.Delivered = false;
            ev.Proof = proof;
            ev.Reason = why;
            return ev;
        }

        /// <summary>
        /// What a result still shows once its verification message was delivered locally: the accepted tests
        /// whose recipient is not in the -VerifyAddress domain (RecipientAccepted), else nothing.
        /// </summary>
        public static RelayProof LocalProof(RelayTestResult r)
        {
            var domain = Rules.RecipientRules.DomainOf(r.VerifyAddress);
            var foreign = (r.Tests ?? Array.Empty<RelayTestOutcome>()).Any(t => t != null && t.Accepted
                && (domain is null || (t.RcptTo ?? string.Empty).IndexOf(domain, StringComparison.OrdinalIgnoreCase) < 0));
            var proof = foreign ? RelayProof.RecipientAccepted : RelayProof.None;
            return proof > r.Proof ? r.Proof : proof;
        }

        /// <summary>A shallow copy of every public read-write property (so the caller's object is not changed).</summary>
        public static RelayTestResult Copy(RelayTestResult r)
        {
            var copy = new RelayTestResult();
            foreach (var p in typeof(RelayTestResult).GetProperties(BindingFlags.Public | BindingFlags.Instance))
                if (p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0) p.SetValue(copy, p.GetValue(r));
            return copy;
        }

        /// <summary>Deletes the given found messages from the source.</summary>
        public Task RemoveAsync(IReadOnlyList<FoundMessage> messages, CancellationToken ct)
            => _source is null ? Task.CompletedTask : _source.RemoveAsync(messages.Select(m => m.Item).ToList(), ct);

        /// <summary>Moves the given found messages to another folder (IMAP only).</summary>
        public Task MoveAsync(IReadOnlyList<FoundMessage> messages, string folder, CancellationToken ct)
            => _source is null ? Task.CompletedTask : _source.MoveAsync(messages.Select(m => m.Item).ToList(), folder, ct);

        public Task CloseAsync(CancellationToken ct) => _source?.CloseAsync(ct) ?? Task.CompletedTask;

        public void Dispose() => _source?.Dispose();
    }
}

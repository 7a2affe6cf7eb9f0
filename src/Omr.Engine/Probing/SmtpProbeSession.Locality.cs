using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine.Probing.Battery;
using Omr.Engine.Rules;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// A recipient is foreign only if it is foreign to this server. Before the battery, the probe
    /// recipient's domain (and the -VerifyAddress domain) is checked against this server: its address,
    /// the name it was reached by, the name it calls itself. Where the server is that domain's mail host,
    /// the battery uses a recipient foreign to it, and no verification message is sent through it. After
    /// the battery, an acceptance of a recipient that is not the reserved default is checked once against
    /// a recipient in a domain nobody receives mail for: a server that takes the one and refuses to relay
    /// to the other is that domain's destination, and the battery runs again.
    /// </summary>
    public sealed partial class SmtpProbeSession
    {
        /// <summary>What the scan knows of the recipient domains' mail hosts (set by the scanner).</summary>
        internal RecipientLocality Locality { get; set; } = RecipientLocality.None;

        /// <summary>Domains found local to this server, with the reason.</summary>
        private readonly Dictionary<string, string> _localDomains = new Dictionary<string, string>(StringComparer.Ordinal);
        /// <summary>The probe addresses the battery uses on this server (the scan's, unless its recipient is local here).</summary>
        private ProbeContext? _probeBase;
        /// <summary>Why the battery's recipient is not the scan's, said once in the result's reason.</summary>
        private string? _recipientNote;
        /// <summary>The name in the EHLO reply ("250-mx.example.net Hello ...").</summary>
        private string? _ehloName;
        private bool _foreignChecked;

        /// <summary>The recipients the battery may use here, in order: the scan's, the -VerifyAddress, the reserved default.</summary>
        private IEnumerable<string> RecipientCandidates()
        {
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var r in new[] { _settings.ProbeRecipient, Locality.VerifyAddress, ProbeSettings.DefaultProbeRecipient })
                if (r != null && seen.Add(r)) yield return r;
        }

        /// <summary>The recipient the battery uses on this server.</summary>
        internal string BatteryRecipient => (_probeBase ?? _settings.Probe).ProbeRecipient;

        /// <summary>The probe addresses for this server: decided once the greeting and EHLO named it.</summary>
        private ProbeContext ProbeBase()
        {
            if (_probeBase != null) return _probeBase;
            foreach (var d in Locality.Domains)
            {
                if (_localDomains.ContainsKey(d.Domain)) continue;
                var why = RecipientRules.LocalBecause(d, _target.Address, _target.Host, new[] { FirstWord(_banner), _ehloName });
                if (why != null) _localDomains[d.Domain] = why;
            }
            // None foreign (a lab whose DNS makes even example.net this server's): the scan's, and the transcript says so.
            var chosen = RecipientCandidates().FirstOrDefault(r => !IsLocal(r));
            if (chosen is null) _transcript.Note("no recipient the scan knows is foreign to this server; the relay tests use the scan's own");
            _probeBase = UseRecipient(chosen ?? _settings.ProbeRecipient);
            return _probeBase;
        }

        private bool IsLocal(string mailbox)
        {
            var domain = RecipientRules.DomainOf(mailbox);
            return domain != null && _localDomains.ContainsKey(domain);
        }

        private ProbeContext UseRecipient(string recipient)
        {
            var scan = _settings.Probe;
            if (string.Equals(recipient, scan.ProbeRecipient, StringComparison.Ordinal)) return scan;
            var local = string.Join("; ", _localDomains.Select(kv => $"{kv.Key}: {kv.Value}"));
            _recipientNote = $"(The relay tests used <{recipient}>, not <{scan.ProbeRecipient}>: this server receives mail for {string.Join(" and ", _localDomains.Keys)} ({local}), so a recipient there is local to it and proves nothing.)";
            _transcript.Note($"local to this server: {local}; the relay tests use <{recipient}>, which is foreign to it");
            return new ProbeContext(scan.ProbeFrom, recipient, string.Empty, string.Empty, string.Empty);
        }

        /// <summary>Set with -Verify when the -VerifyAddress domain is this server's own: why no message goes through it.</summary>
        private string? VerifyWithheld()
        {
            var verify = Locality.VerifyAddress;
            var domain = RecipientRules.DomainOf(verify);
            if (domain is null || !_localDomains.TryGetValue(domain, out var why)) return null;
            return $"No verification message was sent: this server receives mail for {domain}, the -VerifyAddress domain ({why}), so it would deliver the message itself, which proves nothing. Prove it with a -VerifyAddress in a domain this server does not receive mail for.";
        }

        /// <summary>
        /// After a battery that accepted a recipient other than the reserved default: on a fresh
        /// connection, that recipient and a recipient in a domain nobody receives mail for, one command at
        /// a time. Accepting the one and refusing to relay to the other makes the recipient's domain local
        /// here: the battery runs again with a foreign recipient. Any other answer changes nothing.
        /// </summary>
        private async Task CheckForeignAsync(CancellationToken ct)
        {
            var recipient = BatteryRecipient;
            var domain = RecipientRules.DomainOf(recipient);
            var control = ProbeSettings.DefaultProbeRecipient;
            // The control must be in another domain: two users of one domain say nothing about whose it is.
            if (_foreignChecked || domain is null || _localDomains.ContainsKey(domain) || domain == RecipientRules.DomainOf(control)
                || !_units.Any(u => u.Outcome?.Accepted == true)) return;
            _foreignChecked = true;
            _transcript.Note($"checking that <{recipient}> is foreign to this server: the same sender to it and to <{control}>, whose domain no server receives mail for");
            SmtpReply? accepted = null, refused = null;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(_settings.Timeout);
            var token = deadline.Token;
            bool gated = false;
            try
            {
                if (AddressSlots != null) { await AddressSlots.WaitAsync(token).ConfigureAwait(false); gated = true; }
                using var conn = await OpenAnotherAsync(token).ConfigureAwait(false);
                if (conn is null) return;
                var mail = await SmtpExchange.CommandAsync(conn, "MAIL", SmtpCommand.Mail("<" + _settings.ProbeFrom + ">"), token).ConfigureAwait(false);
                if (mail.IsPositive)
                {
                    accepted = await SmtpExchange.CommandAsync(conn, "RCPT", SmtpCommand.Rcpt("<" + recipient + ">"), token).ConfigureAwait(false);
                    refused = await SmtpExchange.CommandAsync(conn, "RCPT", SmtpCommand.Rcpt("<" + control + ">"), token).ConfigureAwait(false);
                }
                await SmtpExchange.QuitAsync(conn, token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SmtpSessionException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
            {
                _transcript.Note("the check could not be completed (" + Transcript.Sanitize(ex.Message) + "); the acceptances stand");
                return;
            }
            finally
            {
                if (gated) AddressSlots!.Release();
            }
            if (accepted is null || refused is null || !(accepted.Code == 250 || accepted.Code == 251) || !RecipientRules.RefusesForeign(refused))
            {
                _transcript.Note($"nothing shows that <{recipient}> is local to this server; the acceptances stand");
                return;
            }
            _localDomains[domain] = $"it accepted <{recipient}> but refused to relay to <{control}> ({Transcript.Sanitize(refused.ToString())})";
            var next = RecipientCandidates().FirstOrDefault(r => !IsLocal(r)) ?? control;
            _transcript.Note($"<{recipient}> is local to this server: its acceptances prove nothing; the relay tests run again with <{next}>");
            Retarget(next);
            await RunBatteryAsync(ct).ConfigureAwait(false);
        }

        /// <summary>Forgets the battery run with a local recipient and plans it again with <paramref name="recipient"/>.</summary>
        private void Retarget(string recipient)
        {
            _probeBase = UseRecipient(recipient);
            _units.Clear();
            _unitByPair = null;
            _battery.Clear();
            _facts.StoppedOnFirst = false;
            _facts.Confirmed = false;
            foreach (var c in _contexts) c.Units = null;
        }
    }
}

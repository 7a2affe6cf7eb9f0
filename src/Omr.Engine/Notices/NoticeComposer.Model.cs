using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text;
using MimeKit;
using Omr.Engine.Evidence;
using Omr.Engine.Rules;

namespace Omr.Engine.Notices
{
    /// <summary>What the templates see: the notice and each host, every server string made one clean line.</summary>
    public static partial class NoticeComposer
    {
        private const int MaxHeaders = 100;

        private static TemplateModel RootModel(string domain, MailboxAddress from, IReadOnlyList<RelayEvidence> hosts, List<HostFiles> files,
            NoticeOptions options, DateTimeOffset now, string id, bool arf, List<string> attachmentNames)
        {
            var tested = TestedFrom(options);
            var hostModels = files.Select(f => HostModel(f, tested, arf)).ToList();
            var n = hosts.Count;
            // The blocklists that list these hosts (Test-OpenRelay -Blocklist): the harm already done, said near the top.
            var listings = hosts.SelectMany(h => (h.Result?.Listings ?? Array.Empty<BlocklistListing>()).Select(l => new TemplateModel
            {
                ["Host"] = HostLabel(h),
                ["Zone"] = NoticeText.OneLine(l.Zone, 255),
                ["Codes"] = NoticeText.OneLine(string.Join(", ", l.Codes ?? Array.Empty<string>()), 200),
                ["Text"] = NoticeText.OneLine(l.Text, 500),
            })).ToList();
            var model = new TemplateModel
            {
                ["Listed"] = listings.Count > 0,
                ["Listings"] = listings,
                ["Domain"] = domain,
                ["Sender"] = NoticeText.OneLine(from.ToString(), 300),
                ["SenderAddress"] = from.Address,
                ["Contact"] = NoticeText.OneLine(string.IsNullOrWhiteSpace(options.ReplyTo) ? from.Address : options.ReplyTo, 300),
                ["TestedFrom"] = tested,
                ["HostCount"] = n,
                ["HostCountText"] = n == 1 ? "One mail server" : n.ToString(CultureInfo.InvariantCulture) + " mail servers",
                ["SingleHost"] = n == 1,
                ["FirstHost"] = HostLabel(hosts[0]),
                ["MoreHosts"] = n - 1,
                ["HostList"] = string.Join(", ", hosts.Select(HostLabel)),
                ["Hosts"] = hostModels,
                ["RetestAfter"] = NoticeText.OneLine(options.RetestAfter, 200),
                ["ProviderMx"] = options.ProviderMx.Count > 0,
                ["ProviderMxList"] = options.ProviderMx.Select((mx, i) => new TemplateModel { ["Preference"] = ((i + 1) * 10).ToString(CultureInfo.InvariantCulture), ["Value"] = NoticeText.OneLine(mx, 255).TrimEnd('.') }).ToList(),
                ["ProviderNetwork"] = options.ProviderNetwork.Count > 0,
                ["ProviderNetworkList"] = options.ProviderNetwork.Select(x => new TemplateModel { ["Value"] = NoticeText.OneLine(x, 100) }).ToList(),
                ["Arf"] = arf,
                ["NoticeId"] = id,
                ["Date"] = When(now),
                ["AttachmentList"] = attachmentNames.Count == 0 ? "nothing" : string.Join(", ", attachmentNames),
            };
            AddFixes(model, hosts);
            return model;
        }

        /// <summary>
        /// NetworkOwner / NetworkOwners: the abuse desks (-NetworkAbuse) of these hosts' networks that the notice also goes
        /// to; NetworkOwnerOnly: the domain had no usable contact, so it goes to them alone.
        /// </summary>
        private static void AddNetworkOwners(TemplateModel model, NoticeDraft draft, IReadOnlyList<RelayEvidence> hosts)
        {
            var owners = draft.NetworkOwners.Where(o => hosts.Any(h => string.Equals(Names.Address(NoticePlanner.AddressOf(h)), Names.Address(o.Address), StringComparison.Ordinal))).ToList();
            model["NetworkOwner"] = owners.Count > 0;
            model["NetworkOwnerOnly"] = owners.Count > 0 && draft.NetworkOwnerOnly;
            model["NetworkOwners"] = owners.Select(o => new TemplateModel
            {
                ["Abuse"] = NoticeText.OneLine(string.Join(", ", o.Abuse), 300),
                ["Address"] = NoticeText.OneLine(o.Address, 64),
                ["Network"] = NoticeText.OneLine(o.Network, 200),
                ["Range"] = NoticeText.OneLine(o.Range, 100),
            }).ToList();
        }

        /// <summary>
        /// Fixes: the fix for the software each host was identified as first (with the hosts it is for), then every
        /// other one; Unknown software keeps them all in the usual order. SoftwareKnown: some host was identified.
        /// </summary>
        private static void AddFixes(TemplateModel model, IReadOnlyList<RelayEvidence> hosts)
        {
            var software = hosts.Select(h => h.Result is null ? null : SoftwareRules.Of(h.Result)).ToList();
            var fixes = Remediations.Order(software, out var first);
            model["SoftwareKnown"] = first > 0;
            model["Fixes"] = fixes.Select((fix, i) =>
            {
                var mine = Enumerable.Range(0, hosts.Count)
                    .Where(k => software[k]?.IsKnown == true && string.Equals(software[k]!.Product, fix.Product, StringComparison.OrdinalIgnoreCase))
                    .Select(k => NoticeText.OneLine(HostLabel(hosts[k]) + " (" + software[k] + ", " + How(software[k]!) + ")", 400)).ToList();
                return new TemplateModel
                {
                    ["Title"] = fix.Title,
                    ["Intro"] = fix.Intro,
                    ["Lines"] = fix.Lines.Select(l => new TemplateModel { ["Text"] = l }).ToList(),
                    ["Note"] = fix.Note,
                    ["IdentifiedOn"] = i < first ? string.Join("; ", mine) : string.Empty,
                    ["LastIdentified"] = first > 0 && i == first - 1,
                };
            }).ToList();
        }

        /// <summary>"as its greeting says" / "from its replies": what the identification rests on, in a few words.</summary>
        internal static string How(RelaySoftware s) => s.Confidence switch
        {
            SoftwareConfidence.Version or SoftwareConfidence.Product => "as its greeting says",
            _ => "from the wording of its replies",
        };

        private static TemplateModel HostModel(HostFiles f, string tested, bool arf)
        {
            var ev = f.Evidence;
            var r = ev.Result ?? new RelayTestResult();
            var name = NoticeText.OneLine(ev.ComputerName ?? r.ComputerName ?? ev.Address ?? r.Address ?? "?", 255);
            var address = NoticeText.OneLine(ev.Address ?? r.Address ?? "?", 64);
            var port = Port(ev);
            var accepted = (r.Tests ?? Array.Empty<RelayTestOutcome>()).Where(t => t.Accepted).Select(t => new TemplateModel
            {
                ["Test"] = NoticeText.OneLine(t.Name, 100),
                ["MailFrom"] = NoticeText.OneLine(t.MailFrom, 300),
                ["RcptTo"] = NoticeText.OneLine(t.RcptTo, 300),
                ["Reply"] = NoticeText.OneLine(string.Join(" ", new[] { t.ReplyCode == 0 ? null : t.ReplyCode.ToString(CultureInfo.InvariantCulture), t.EnhancedCode, t.Text }.Where(s => !string.IsNullOrEmpty(s))), 300),
            }).ToList();
            var missing = new List<string>(f.Missing);
            if (accepted.Count == 0) missing.Insert(0, "The individual relay tests are not part of this evidence; see the attached transcript.");
            var verified = VerifiedTest(r);
            var isVerified = r.VerificationMessageId != null || r.VerificationReply != null || ev.Delivered;
            if (ev.Delivered && !ev.RelaySeen)
                missing.Add("The server's address does not appear in the Received headers of the message that came back (a proxy or NAT in front of it may explain this).");

            var headers = new List<TemplateModel>();
            if (f.Message != null)
            {
                foreach (var h in f.Message.Headers.Take(MaxHeaders))
                {
                    var raw = Encoding.UTF8.GetString(h.RawValue);
                    headers.Add(new TemplateModel { ["Name"] = NoticeText.OneLine(h.Field, 100), ["Value"] = NoticeText.OneLine(ReceivedChainParser.Unfold(raw), 1000) });
                }
            }
            var model = new TemplateModel
            {
                ["Name"] = name,
                ["Address"] = address,
                ["Port"] = port,
                ["Endpoint"] = HostLabel(ev),
                ["ProbeId"] = NoticeText.OneLine(ev.ProbeId.Length > 0 ? ev.ProbeId : r.ProbeId, 100),
                ["TestedAt"] = When(r.StartTime),
                ["TestedFrom"] = tested,
                ["Banner"] = r.Banner is null ? "(none recorded)" : NoticeText.OneLine(r.Banner, 500),
                ["Software"] = NoticeText.OneLine(SoftwareRules.Of(r).ToString(), 100),
                ["SoftwareEvidence"] = NoticeText.OneLine(SoftwareRules.Of(r).Evidence, 600),
                ["Tls"] = NoticeText.OneLine(r.Tls, 200),
                ["Proof"] = ev.Proof.ToString(),
                ["ProofText"] = ProofText(ev),
                ["RelayedBy"] = string.Join(", ", (r.RelayedBy ?? Array.Empty<string>()).Select(s => NoticeText.OneLine(s, 100))),
                ["Accepted"] = accepted,
                ["Verified"] = isVerified,
                ["VerifiedWith"] = NoticeText.OneLine(r.VerifiedWith ?? verified?.Name, 100),
                ["VerifyMailFrom"] = NoticeText.OneLine(verified?.MailFrom, 300),
                ["VerifyRcptTo"] = NoticeText.OneLine(verified?.RcptTo ?? r.VerifyAddress, 300),
                ["VerifyAddress"] = NoticeText.OneLine(r.VerifyAddress, 300),
                ["VerificationReply"] = NoticeText.OneLine(r.VerificationReply ?? "(none recorded)", 300),
                ["MessageId"] = NoticeText.OneLine(ev.MessageId ?? r.VerificationMessageId, 300),
                ["ReceivedAt"] = When(ev.ReceivedAt),
                ["MailSource"] = NoticeText.OneLine(ev.MailSource, 300),
                ["RelaySeen"] = ev.RelaySeen,
                ["Hops"] = ev.Hops.Select(h => new TemplateModel { ["Text"] = NoticeText.OneLine(h.ToString(), 600) }).ToList(),
                ["Headers"] = headers,
                ["RetestCommand"] = RetestCommand(ev.ComputerName ?? r.ComputerName, ev.Address ?? r.Address, port),
                ["Missing"] = missing.Select(m => new TemplateModel { ["Text"] = NoticeText.OneLine(m, 600) }).ToList(),
                ["TranscriptLines"] = arf && f.Transcript != null
                    ? Encoding.UTF8.GetString(f.Transcript).Split('\n').Where(l => l.Length > 0).Take(2000).Select(l => new TemplateModel { ["Text"] = NoticeText.Clean(l, 2000) }).ToList()
                    : new List<TemplateModel>(),
            };
            return model;
        }

        private static string ProofText(RelayEvidence ev) => ev.Proof switch
        {
            RelayProof.Delivered => "OPEN RELAY, proven: the server delivered our verification message from an outside sender to an outside mailbox.",
            RelayProof.DataAccepted => "OPEN RELAY: the server accepted our verification message for an outside mailbox (250 after DATA); it has not been seen arriving yet.",
            RelayProof.RecipientAccepted => "Accepts mail for outside recipients from outside senders (RCPT TO accepted); no message was sent through it.",
            _ => "No relay proven.",
        };

        private static string When(DateTimeOffset? t)
            => t is DateTimeOffset d && d != default ? d.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : string.Empty;

        /// <summary>The exact re-test command; names that are not plain host names or addresses are quoted.</summary>
        public static string RetestCommand(string? host, string? address, int port)
        {
            string target;
            if (host != null && IsHostName(host)) target = host;
            else if (address != null && IPAddress.TryParse(address, out var ip)) target = ip.ToString();
            else target = "'" + NoticeText.OneLine(host ?? address ?? "?", 255).Replace("'", "''") + "'";
            return $"Test-OpenRelay -ComputerName {target} -Port {port.ToString(CultureInfo.InvariantCulture)}";
        }
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine.Discovery;
using Omr.Engine.Evidence;

namespace Omr.Engine.Notices
{
    /// <summary>What to plan: the evidence of one run and the recipient and state rules.</summary>
    public sealed class NoticePlanRequest
    {
        public List<RelayEvidence> Evidence { get; } = new List<RelayEvidence>();
        public RelayProof MinimumProof { get; set; } = RelayProof.Delivered;
        /// <summary>-To: overrides discovery.</summary>
        public IReadOnlyList<string>? To { get; set; }
        public ContactMap? ContactMap { get; set; }
        public IReadOnlyList<string> Cc { get; set; } = Array.Empty<string>();
        public IReadOnlyList<string> Bcc { get; set; } = Array.Empty<string>();
        public INoticeState? State { get; set; }
        public TimeSpan ResendAfter { get; set; } = TimeSpan.FromDays(7);
        public bool Force { get; set; }
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;
        /// <summary>Needed unless -To is given for every group.</summary>
        public ContactResolver? Resolver { get; set; }
        public NoticeFormat Format { get; set; } = NoticeFormat.Text;
        /// <summary>-NetworkAbuse: finds the abuse desk of each host's network (null: not asked).</summary>
        public INetworkAbuseLookup? NetworkAbuse { get; set; }
    }

    /// <summary>A problem the cmdlet reports as an error record (and the group is still output, Skipped).</summary>
    public sealed class PlanError
    {
        public PlanError(string errorId, string message, string target) { ErrorId = errorId; Message = message; Target = target; }

        /// <summary>NoContact (ObjectNotFound) or ContactLookupFailed (ResourceUnavailable).</summary>
        public string ErrorId { get; }
        public string Message { get; }
        /// <summary>The domain (or host).</summary>
        public string Target { get; }
    }

    /// <summary>One domain's (or directly tested host's) plan: notice these hosts to these people, or the Skipped notice saying why not.</summary>
    public sealed class PlannedNotice
    {
        public string Domain { get; set; } = string.Empty;
        /// <summary>False when the evidence had no domain (host tested directly): Domain is the host.</summary>
        public bool HasDomain { get; set; }
        public List<RelayEvidence> Hosts { get; } = new List<RelayEvidence>();
        public List<string> To { get; } = new List<string>();
        public List<string> Cc { get; } = new List<string>();
        public List<string> Bcc { get; } = new List<string>();
        /// <summary>Every contact considered (discovered, mapped, given), usable or not.</summary>
        public List<Contact> Contacts { get; } = new List<Contact>();
        /// <summary>Set when nothing is to be sent: the output object (Status Skipped, Reason).</summary>
        public RelayNotice? Skipped { get; set; }
        public PlanError? Error { get; set; }
        /// <summary>Hosts of the group left out of the notice, and why (for the Reason of a sent notice).</summary>
        public List<string> LeftOut { get; } = new List<string>();
        public string[] ProbeIds => Hosts.Select(NoticePlanner.ProbeIdOf).ToArray();
        /// <summary>-NetworkAbuse: the abuse desk looked up for each host (found or not, and why not).</summary>
        public List<(RelayEvidence Host, NetworkAbuseContact Contact)> NetworkAbuse { get; } = new List<(RelayEvidence, NetworkAbuseContact)>();
        /// <summary>True when the domain had no usable contact and the notice goes to the network owners alone.</summary>
        public bool NetworkOwnerOnly { get; set; }
        /// <summary>What the output's Reason says besides the hosts left out (the network owner as the fallback).</summary>
        public List<string> Notes { get; } = new List<string>();

        /// <summary>The network owners found for these hosts, each once.</summary>
        public List<NetworkAbuseContact> OwnersOf(IEnumerable<RelayEvidence> hosts)
        {
            var set = new HashSet<RelayEvidence>(hosts);
            return NetworkAbuse.Where(n => set.Contains(n.Host) && n.Contact.Found).Select(n => n.Contact)
                .GroupBy(c => string.Join(",", c.Abuse).ToLowerInvariant() + "|" + c.Address).Select(g => g.First()).ToList();
        }

        /// <summary>
        /// The recipients of a notice covering <paramref name="hosts"/>: the domain's contacts and the abuse desks of
        /// those hosts' networks, each address once; with <paramref name="abuseFirst"/> (an ARF report: abuse desks
        /// read ARF) the abuse desks come first.
        /// </summary>
        public List<string> RecipientsFor(IEnumerable<RelayEvidence> hosts, bool abuseFirst)
        {
            var abuse = OwnersOf(hosts).SelectMany(c => c.Abuse);
            var all = abuseFirst ? abuse.Concat(To) : To.Concat(abuse);
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            return all.Where(seen.Add).ToList();
        }
    }

    /// <summary>
    /// Turns a run's evidence into notices: one per domain (hosts tested directly group by host),
    /// covering the open hosts whose proof reaches -MinimumProof and that were not noticed within
    /// -ResendAfter, addressed to the discovered or given contacts. Every group yields a plan; a group
    /// with nothing to send carries its Skipped RelayNotice with the reason.
    /// </summary>
    public static class NoticePlanner
    {
        public static string DomainOf(RelayEvidence ev)
        {
            var d = ev.Domain ?? ev.Result?.Domain;
            return Names.Domain(d);
        }

        public static string HostOf(RelayEvidence ev)
            => Names.Domain(ev.ComputerName ?? ev.Result?.ComputerName ?? ev.Address ?? ev.Result?.Address ?? "?");

        public static string AddressOf(RelayEvidence ev) => ev.Address ?? ev.Result?.Address ?? string.Empty;

        public static int PortOf(RelayEvidence ev) => ev.Port != 0 ? ev.Port : ev.Result?.Port ?? 0;

        /// <summary>The evidence's probe id, or its result's; empty when neither has one.</summary>
        public static string ProbeIdOf(RelayEvidence ev) => ev.ProbeId.Length > 0 ? ev.ProbeId : ev.Result?.ProbeId ?? string.Empty;

        public static NoticeHostKey KeyOf(string domain, RelayEvidence ev)
            => new NoticeHostKey(domain, ev.ComputerName ?? ev.Result?.ComputerName, AddressOf(ev), PortOf(ev), ev.ProbeId.Length > 0 ? ev.ProbeId : ev.Result?.ProbeId);

        private static string When(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

        public static async Task<List<PlannedNotice>> PlanAsync(NoticePlanRequest request, CancellationToken ct)
        {
            if (request is null) throw new ArgumentNullException(nameof(request));
            var plans = new List<PlannedNotice>();
            // Evidence this engine did not produce is a claim: a Delivered claim stands only with a verified bundle.
            var groups = request.Evidence.Select(EvidenceVerifier.Vet)
                .GroupBy(ev => DomainOf(ev).Length > 0 ? "d:" + DomainOf(ev) : "h:" + HostOf(ev), StringComparer.Ordinal)
                .ToList();
            var records = request.State?.Read();

            foreach (var g in groups)
            {
                var hasDomain = g.Key.StartsWith("d:", StringComparison.Ordinal);
                var plan = new PlannedNotice { Domain = g.Key.Substring(2), HasDomain = hasDomain };
                // The same address and port twice in one run: keep the strongest proof (then the latest).
                var unique = g.GroupBy(ev => AddressOf(ev).ToLowerInvariant() + "|" + PortOf(ev).ToString(CultureInfo.InvariantCulture))
                    .Select(x => x.OrderByDescending(e => e.Proof).ThenByDescending(e => e.ReceivedAt ?? e.Result?.StartTime).First())
                    .OrderBy(ev => HostOf(ev), StringComparer.Ordinal).ThenBy(ev => AddressOf(ev), StringComparer.Ordinal).ThenBy(PortOf)
                    .ToList();
                var allHosts = unique.Select(NoticeComposer.HostLabel).ToArray();

                var weak = unique.Where(ev => ev.Proof < request.MinimumProof).ToList();
                foreach (var ev in weak)
                    plan.LeftOut.Add($"{NoticeComposer.HostLabel(ev)}: proof {ev.Proof} is below -MinimumProof {request.MinimumProof}{(ev.Reason is null ? string.Empty : " (" + NoticeText.OneLine(ev.Reason, 200) + ")")}");
                var candidates = unique.Where(ev => ev.Proof >= request.MinimumProof).ToList();
                if (candidates.Count == 0)
                {
                    plan.Skipped = Skip(plan, allHosts, unique, request,
                        $"No proof strong enough to notice: {string.Join("; ", plan.LeftOut)}. Use -MinimumProof DataAccepted or RecipientAccepted to notice on weaker proof, knowingly.");
                    plans.Add(plan);
                    continue;
                }

                if (records != null)
                {
                    var already = new List<(RelayEvidence Ev, NoticeRecord By)>();
                    foreach (var ev in candidates)
                    {
                        var by = request.State!.Blocking(records, KeyOf(plan.Domain, ev), request.Now, request.ResendAfter, request.Force, run: null);
                        if (by != null) already.Add((ev, by));
                    }
                    foreach (var (ev, by) in already)
                        plan.LeftOut.Add(AlreadyReason(NoticeComposer.HostLabel(ev), by, request.ResendAfter, request.Now));
                    candidates = candidates.Where(ev => already.All(a => !ReferenceEquals(a.Ev, ev))).ToList();
                    if (candidates.Count == 0)
                    {
                        plan.Skipped = Skip(plan, allHosts, unique, request, string.Join("; ", plan.LeftOut));
                        plans.Add(plan);
                        continue;
                    }
                }
                plan.Hosts.AddRange(candidates);
                plan.Cc.AddRange(request.Cc);
                plan.Bcc.AddRange(request.Bcc);

                await ResolveContactsAsync(plan, request, ct).ConfigureAwait(false);
                if (request.NetworkAbuse != null) await NetworkOwnersAsync(plan, request.NetworkAbuse, request.Resolver, ct).ConfigureAwait(false);
                if (plan.To.Count == 0 && plan.OwnersOf(plan.Hosts).Count > 0)
                {
                    // No usable contact of the domain's own: the network's abuse desk is the fallback, said in the result.
                    plan.NetworkOwnerOnly = true;
                    plan.Notes.Add($"sent to the network owner's abuse desk only: {plan.Error?.Message ?? "the domain has no usable contact"}");
                    plan.Error = null;
                }
                if (plan.To.Count == 0 && !plan.NetworkOwnerOnly)
                {
                    var reason = plan.Error?.Message ?? "no usable contact";
                    plan.Skipped = Skip(plan, plan.Hosts.Select(NoticeComposer.HostLabel).ToArray(), plan.Hosts, request, reason);
                }
                plans.Add(plan);
            }
            return plans;
        }

        public static string AlreadyReason(string host, NoticeRecord by, TimeSpan resendAfter, DateTimeOffset now)
        {
            if (by.Status == NoticeRecord.Pending)
                return $"{host}: another run has been noticing it since {When(by.Time)}";
            return $"{host}: already noticed on {When(by.Time)}{(by.MessageId is null ? string.Empty : " (" + by.MessageId + ")")}; use -Force or wait until {When(by.Time + resendAfter)}";
        }

        private static RelayNotice Skip(PlannedNotice plan, string[] hosts, IEnumerable<RelayEvidence> evidence, NoticePlanRequest request, string reason)
            => new RelayNotice
            {
                Domain = plan.Domain,
                Hosts = hosts,
                Recipients = plan.To.ToArray(),
                Cc = plan.Cc.ToArray(),
                Bcc = plan.Bcc.ToArray(),
                Status = NoticeStatus.Skipped,
                Reason = reason,
                Format = request.Format,
                ProbeIds = evidence.Select(ProbeIdOf).ToArray(),
            };

        /// <summary>
        /// Looks up the abuse desk of every host's network (one query per network per run, the lookup's cache); a failure is
        /// recorded, never thrown. An abuse address whose domain cannot receive mail is left out, as a domain's contact would be
        /// (one refused recipient would fail the whole notice).
        /// </summary>
        private static async Task NetworkOwnersAsync(PlannedNotice plan, INetworkAbuseLookup lookup, ContactResolver? resolver, CancellationToken ct)
        {
            foreach (var ev in plan.Hosts)
            {
                var text = AddressOf(ev);
                var contact = System.Net.IPAddress.TryParse(text, out var address)
                    ? await lookup.FindAsync(address, ct).ConfigureAwait(false)
                    : new NetworkAbuseContact { Address = text, Problem = "the evidence gives no address to look up" };
                if (contact.Found && resolver != null)
                {
                    var checks = contact.Abuse.Select(a => new Contact(a, "network owner")).ToList();
                    await resolver.CheckAsync(checks, ct).ConfigureAwait(false);
                    if (checks.Any(c => c.Problem != null))
                    {
                        contact = RdapAbuseLookup.Copy(contact, contact.Address, contact.Cached);
                        contact.Abuse = checks.Where(c => c.Problem is null).Select(c => c.Address).ToArray();
                        if (contact.Abuse.Length == 0) contact.Problem = "the abuse address cannot receive mail: " + string.Join("; ", checks.Select(c => c.ToString()));
                    }
                }
                plan.NetworkAbuse.Add((ev, contact));
                if (contact.Found)
                    foreach (var a in contact.Abuse)
                        plan.Contacts.Add(new Contact(a, "network owner (RDAP" + (contact.Network is null ? string.Empty : ": " + contact.Network) + ")"));
            }
        }

        private static async Task ResolveContactsAsync(PlannedNotice plan, NoticePlanRequest request, CancellationToken ct)
        {
            if (request.To != null && request.To.Count > 0)
            {
                foreach (var a in request.To) plan.Contacts.Add(new Contact(a, "-To"));
                plan.To.AddRange(ContactResolver.Deduplicate(plan.Contacts).Select(c => c.Address));
                return;
            }
            var mapped = new List<Contact>();
            if (request.ContactMap != null)
            {
                foreach (var a in request.ContactMap.Get(plan.Domain)) mapped.Add(new Contact(a, "-ContactMap"));
                if (!plan.HasDomain)
                {
                    // A host tested directly may also be mapped by its address.
                    foreach (var ev in plan.Hosts)
                        foreach (var a in request.ContactMap.Get(AddressOf(ev))) mapped.Add(new Contact(a, "-ContactMap"));
                }
            }
            if (!plan.HasDomain)
            {
                plan.Contacts.AddRange(ContactResolver.Deduplicate(mapped));
                plan.To.AddRange(plan.Contacts.Select(c => c.Address));
                if (plan.To.Count == 0)
                    plan.Error = new PlanError("NoContact", $"{plan.Domain} was tested directly, without a domain: there is nobody to discover. Name the recipients with -To or -ContactMap (keyed by host name or address).", plan.Domain);
                return;
            }
            if (request.Resolver is null) throw new InvalidOperationException("Contact discovery needs a resolver.");
            ContactSet set;
            try
            {
                set = await request.Resolver.DiscoverAsync(plan.Domain, ct).ConfigureAwait(false);
            }
            catch (DiscoveryException ex)
            {
                set = new ContactSet(plan.Domain) { DnsFailed = ex.Kind == DiscoveryErrorKind.DnsFailure };
                plan.Contacts.AddRange(mapped);
                plan.To.AddRange(ContactResolver.Deduplicate(mapped).Select(c => c.Address));
                if (plan.To.Count == 0)
                    plan.Error = new PlanError(set.DnsFailed ? "ContactLookupFailed" : "NoContact", $"No contact for {plan.Domain}: {ex.Message}", plan.Domain);
                return;
            }
            plan.Contacts.AddRange(ContactResolver.Deduplicate(set.Candidates.Concat(mapped)));
            plan.To.AddRange(plan.Contacts.Where(c => c.Problem is null).Select(c => c.Address));
            if (plan.To.Count == 0)
            {
                var id = set.DnsFailed ? "ContactLookupFailed" : "NoContact";
                plan.Error = new PlanError(id,
                    $"No usable contact for {plan.Domain}: {set.Describe()}. Name the recipients with -To or -ContactMap.", plan.Domain);
            }
        }
    }
}

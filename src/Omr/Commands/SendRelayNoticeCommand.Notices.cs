using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Omr.Engine.Discovery;
using Omr.Engine.Notices;
using Omr.Engine.Service;
using Omr.Engine.State;

namespace Omr.Commands
{
    /// <summary>Send-RelayNotice, the first notices: plan per domain, confirm, reserve in the state, compose, deliver, record.</summary>
    public sealed partial class SendRelayNoticeCommand
    {
        private void SendNotices()
        {
            var now = DateTimeOffset.UtcNow;
            var run = new NoticeRun(_state, ResendAfter, Force.IsPresent);
            // The verification messages found: the recorded results say so too.
            Run(() => { run.RecordDelivered(_evidence); return Task.FromResult(0); }, "StateUpdateFailed");
            var request = new NoticePlanRequest
            {
                MinimumProof = MinimumProof,
                To = To,
                ContactMap = _contactMap,
                Cc = Cc ?? Array.Empty<string>(),
                Bcc = Bcc ?? Array.Empty<string>(),
                State = _state?.Notices,
                ResendAfter = ResendAfter,
                Force = Force.IsPresent,
                Now = now,
                Resolver = new ContactResolver(_dns, TimeSpan.FromSeconds(Math.Min(TimeoutSec, 10))),
                Format = Format,
            };
            request.Evidence.AddRange(_evidence);
            using var abuse = UseNetworkAbuse ? new RdapAbuseLookup(RdapServer, TimeSpan.FromSeconds(Math.Min(TimeoutSec, 30))) : null;
            request.NetworkAbuse = abuse;
            var plans = Run(() => NoticePlanner.PlanAsync(request, StopToken), "NoticePlanFailed");
            if (plans is null) return;
            ReportNetworkOwners(plans);

            var options = Options();
            INoticeDelivery? delivery = null;
            var done = 0;
            try
            {
                foreach (var plan in plans)
                {
                    // Progress over the domains of the run (each one notice, or one per host with -Format Arf).
                    WriteProgress(new ProgressRecord(3, "Send-RelayNotice", $"{done} of {plans.Count} domains") { CurrentOperation = plan.Domain, PercentComplete = done * 100 / Math.Max(plans.Count, 1) });
                    done++;
                    foreach (var c in plan.Contacts) WriteVerbose($"{plan.Domain}: contact {c}");
                    if (plan.Error != null)
                    {
                        var category = plan.Error.ErrorId == "NoContact" ? ErrorCategory.ObjectNotFound : ErrorCategory.ResourceUnavailable;
                        WriteError(new ErrorRecord(new ItemNotFoundException(plan.Error.Message), plan.Error.ErrorId, category, plan.Error.Target)
                        {
                            ErrorDetails = new ErrorDetails(plan.Error.Message) { RecommendedAction = "Name the recipients with -To or -ContactMap, or check -DnsServer." },
                        });
                    }
                    if (plan.Skipped != null)
                    {
                        plan.Skipped.NetworkAbuse = plan.NetworkAbuse.Select(n => n.Contact).ToArray();
                        WriteObject(plan.Skipped);
                        continue;
                    }
                    var units = Format == NoticeFormat.Arf ? plan.Hosts.Select(h => new List<RelayEvidence> { h }).ToList() : new List<List<RelayEvidence>> { plan.Hosts };
                    foreach (var unit in units)
                    {
                        // The domain's contacts and the abuse desks of these hosts' networks (first for ARF: abuse desks read it).
                        var to = plan.RecipientsFor(unit, Format == NoticeFormat.Arf);
                        if (to.Count == 0)
                        {
                            WriteObject(NoRecipient(plan, unit));
                            continue;
                        }
                        delivery ??= CreateDelivery();
                        WriteObject(Notice(plan, unit, to, options, delivery, run));
                    }
                }
                if (options.UnknownPlaceholders!.Count > 0)
                    WriteWarning($"The templates use placeholders that do not exist (rendered empty): {string.Join(", ", options.UnknownPlaceholders.OrderBy(x => x, StringComparer.OrdinalIgnoreCase))}.");
            }
            finally
            {
                delivery?.Dispose();
                if (done > 0) WriteProgress(new ProgressRecord(3, "Send-RelayNotice", "Done") { RecordType = ProgressRecordType.Completed });
            }
        }

        private RelayNotice Notice(PlannedNotice plan, List<RelayEvidence> hosts, List<string> to, NoticeOptions options, INoticeDelivery delivery, NoticeRun run)
        {
            var output = new RelayNotice
            {
                Domain = plan.Domain,
                Recipients = to.ToArray(),
                Cc = plan.Cc.ToArray(),
                Bcc = plan.Bcc.ToArray(),
                Format = Format,
                NetworkAbuse = NetworkAbuseOf(plan, hosts),
            };
            var notes = new List<string>(plan.LeftOut.Select(l => "not included: " + l).Concat(plan.Notes));
            ComposedNotice? composed = Compose(plan, hosts, to, options, output);
            if (composed is null) return output;

            var sendTo = string.Join(", ", to) + (plan.Cc.Count > 0 ? "; Cc " + string.Join(", ", plan.Cc) : string.Empty) + (plan.Bcc.Count > 0 ? "; Bcc " + string.Join(", ", plan.Bcc) : string.Empty);
            var action = $"{Verb} open-relay notice \"{composed.Subject}\" ({Format}) to {sendTo} via {delivery.Description}";
            var target = $"{plan.Domain}: {string.Join(", ", composed.Hosts)}";
            if (!Confirm(output, target, action, out var declined))
            {
                notes.Insert(0, declined);
                output.Reason = string.Join("; ", notes);
                return output;
            }

            IReadOnlyList<NoticeHostKey> keys = hosts.Select(h => NoticePlanner.KeyOf(plan.Domain, h)).ToList();
            var reservation = Run(() => Task.FromResult(run.Reserve(keys)), "StateUpdateFailed");
            if (reservation.Blocked.Count > 0)
            {
                // Another run noticed some of these hosts since this run read the state: leave them out.
                notes.AddRange(reservation.Blocked.Select(b => "not included: " + b.Why));
                keys = reservation.Reserved;
                hosts = hosts.Where(h => keys.Any(k => k.Key == NoticePlanner.KeyOf(plan.Domain, h).Key)).ToList();
                if (hosts.Count == 0)
                {
                    output.Status = NoticeStatus.Skipped;
                    output.Reason = string.Join("; ", notes);
                    return output;
                }
                composed = Compose(plan, hosts, to, options, output);
                if (composed is null) { run.Release(keys); return output; }
            }

            try
            {
                var result = Deliver(run, delivery, composed, keys, NoticeKind.Notice, to, plan.Cc, null, output, $"notice for {plan.Domain}").Result;
                notes.AddRange(composed.Notes);
                output.Reason = notes.Count > 0 ? string.Join("; ", notes) : null;
                WriteVerbose($"{plan.Domain}: {output.Status} {composed.MessageId} to {sendTo}{(result.Reply is null ? string.Empty : ": " + result.Reply)}{(result.Path is null ? string.Empty : ": " + result.Path)}");
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException))
            {
                var inner = Unwrap(ex);
                output.Status = NoticeStatus.Failed;
                notes.Insert(0, $"{Verb} failed: {inner.Message}");
                output.Reason = string.Join("; ", notes);
                var category = SmtpNoticeDelivery.IsAuthenticationFailure(inner) ? ErrorCategory.AuthenticationError
                    : SmtpNoticeDelivery.IsTlsFailure(inner) ? ErrorCategory.SecurityError
                    : SmtpNoticeDelivery.IsConnectionFailure(inner) && ParameterSetName == SmtpSet ? ErrorCategory.ConnectionError
                    : ParameterSetName == PickupSet ? ErrorCategory.WriteError : ErrorCategory.InvalidOperation;
                WriteError(new ErrorRecord(inner, DeliveryErrorId, category, plan.Domain)
                {
                    ErrorDetails = new ErrorDetails($"The notice for {plan.Domain} was not {(ParameterSetName == PickupSet ? "written" : "sent")}: {inner.Message}"),
                });
                return output;
            }
            return output;
        }

        private ComposedNotice? Compose(PlannedNotice plan, List<RelayEvidence> hosts, List<string> to, NoticeOptions options, RelayNotice output)
        {
            var draft = new NoticeDraft { Domain = plan.Domain, NetworkOwnerOnly = plan.NetworkOwnerOnly };
            draft.Evidence.AddRange(hosts);
            draft.To.AddRange(to);
            draft.NetworkOwners.AddRange(plan.OwnersOf(hosts));
            draft.Cc.AddRange(plan.Cc);
            draft.Bcc.AddRange(plan.Bcc);
            output.Hosts = hosts.Select(NoticeComposer.HostLabel).ToArray();
            output.ProbeIds = hosts.Select(h => h.ProbeId).ToArray();
            try
            {
                var composed = NoticeComposer.Compose(draft, options)[0];
                output.MessageId = composed.MessageId;
                output.Subject = composed.Subject;
                return composed;
            }
            catch (FormatException ex)
            {
                output.Status = NoticeStatus.Failed;
                output.Reason = "The notice could not be composed: " + ex.Message;
                WriteError(new ErrorRecord(ex, "NoticeComposeFailed", ErrorCategory.InvalidData, plan.Domain));
                return null;
            }
        }

        private static NetworkAbuseContact[] NetworkAbuseOf(PlannedNotice plan, List<RelayEvidence> hosts)
            => plan.NetworkAbuse.Where(n => hosts.Contains(n.Host)).Select(n => n.Contact).ToArray();

        /// <summary>An ARF report whose host has no recipient: the domain has no usable contact and that host's network owner was not found.</summary>
        private RelayNotice NoRecipient(PlannedNotice plan, List<RelayEvidence> hosts)
        {
            var owners = NetworkAbuseOf(plan, hosts);
            return new RelayNotice
            {
                Domain = plan.Domain,
                Hosts = hosts.Select(NoticeComposer.HostLabel).ToArray(),
                ProbeIds = hosts.Select(NoticePlanner.ProbeIdOf).ToArray(),
                Status = NoticeStatus.Skipped,
                Format = Format,
                NetworkAbuse = owners,
                Reason = "no recipient: the domain has no usable contact and the network owner was not found ("
                    + string.Join("; ", owners.Select(o => o.ToString())) + "). Name the recipients with -To or -ContactMap.",
            };
        }

        /// <summary>
        /// Says what the network-owner lookups found (verbose) and why one failed: a warning "NetworkAbuseLookupFailed:"
        /// once per address; a special-purpose address is only verbose when -NetworkAbuse was not asked for (-Format Arf's default).
        /// </summary>
        private void ReportNetworkOwners(IEnumerable<PlannedNotice> plans)
        {
            var said = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var asked = MyInvocation.BoundParameters.ContainsKey(nameof(NetworkAbuse));
            foreach (var (host, c) in plans.SelectMany(p => p.NetworkAbuse))
            {
                if (!said.Add(c.Address)) continue;
                if (c.Found)
                {
                    WriteVerbose($"Network owner of {c.Address}: {string.Join(", ", c.Abuse)}{(c.Network is null ? string.Empty : " (" + c.Network + (c.Range is null ? string.Empty : ", " + c.Range) + ")")} from {c.Registry}{(c.Cached ? " (cached)" : string.Empty)}");
                    continue;
                }
                var quiet = !asked && System.Net.IPAddress.TryParse(c.Address, out var a) && Omr.Engine.Rules.RdapRules.IsSpecialPurpose(a);
                var text = $"NetworkAbuseLookupFailed: no network owner for {NoticeComposer.HostLabel(host)}: {c.Problem}";
                if (quiet) WriteVerbose(text);
                else WriteWarning(text);
            }
        }
    }
}

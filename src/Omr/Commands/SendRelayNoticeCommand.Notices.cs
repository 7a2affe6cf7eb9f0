using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
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
            var plans = Run(() => NoticePlanner.PlanAsync(request, StopToken), "NoticePlanFailed");
            if (plans is null) return;

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
                        WriteObject(plan.Skipped);
                        continue;
                    }
                    var units = Format == NoticeFormat.Arf ? plan.Hosts.Select(h => new List<RelayEvidence> { h }).ToList() : new List<List<RelayEvidence>> { plan.Hosts };
                    foreach (var unit in units)
                    {
                        delivery ??= CreateDelivery();
                        WriteObject(Notice(plan, unit, options, delivery, run));
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

        private RelayNotice Notice(PlannedNotice plan, List<RelayEvidence> hosts, NoticeOptions options, INoticeDelivery delivery, NoticeRun run)
        {
            var output = new RelayNotice
            {
                Domain = plan.Domain,
                Recipients = plan.To.ToArray(),
                Cc = plan.Cc.ToArray(),
                Bcc = plan.Bcc.ToArray(),
                Format = Format,
            };
            var notes = new List<string>(plan.LeftOut.Select(l => "not included: " + l));
            ComposedNotice? composed = Compose(plan, hosts, options, output);
            if (composed is null) return output;

            var sendTo = string.Join(", ", plan.To) + (plan.Cc.Count > 0 ? "; Cc " + string.Join(", ", plan.Cc) : string.Empty) + (plan.Bcc.Count > 0 ? "; Bcc " + string.Join(", ", plan.Bcc) : string.Empty);
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
                composed = Compose(plan, hosts, options, output);
                if (composed is null) { run.Release(keys); return output; }
            }

            try
            {
                var result = Deliver(run, delivery, composed, keys, NoticeKind.Notice, plan.To, plan.Cc, null, output, $"notice for {plan.Domain}").Result;
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

        private ComposedNotice? Compose(PlannedNotice plan, List<RelayEvidence> hosts, NoticeOptions options, RelayNotice output)
        {
            var draft = new NoticeDraft { Domain = plan.Domain };
            draft.Evidence.AddRange(hosts);
            draft.To.AddRange(plan.To);
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
    }
}

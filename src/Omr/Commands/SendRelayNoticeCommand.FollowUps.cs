using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Omr.Engine.Notices;
using Omr.Engine.Service;
using Omr.Engine.State;

namespace Omr.Commands
{
    /// <summary>Send-RelayNotice -EscalateAfter and -Resolved: the follow-ups from the state database.</summary>
    public sealed partial class SendRelayNoticeCommand
    {
        /// <summary>-EscalateAfter reminders and -Resolved follow-ups, from the state database: each reserved (Pending) before it goes, recorded after, never twice.</summary>
        private void SendFollowUps(NoticeKind kind, TimeSpan period)
        {
            var state = _state!;
            var now = DateTimeOffset.UtcNow;
            var candidates = Run(() => Task.FromResult(state.Notices.FollowUps(kind, now, period)), "StateReadFailed");
            if (candidates.Count == 0)
            {
                WriteVerbose(kind == NoticeKind.Reminder ? "No noticed host is due a reminder." : "No noticed host was found fixed or hidden since its notice.");
                return;
            }
            var options = Options();
            var run = new NoticeRun(state, ResendAfter, Force.IsPresent);
            INoticeDelivery? delivery = null;
            try
            {
                foreach (var c in candidates)
                {
                    var to = To != null && To.Length > 0 ? To.ToList() : c.Notice.Recipients.ToList();
                    var cc = (kind == NoticeKind.Reminder ? c.Notice.Cc : Array.Empty<string>()).Concat(Cc ?? Array.Empty<string>()).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
                    var key = c.Key;
                    var output = new RelayNotice
                    {
                        Kind = kind,
                        Domain = c.Result.Domain ?? c.Result.Address ?? string.Empty,
                        Hosts = new[] { FollowUpComposer.HostLabel(c) },
                        Recipients = to.ToArray(),
                        Cc = cc.ToArray(),
                        Bcc = Bcc ?? Array.Empty<string>(),
                        Format = NoticeFormat.Text,
                        ProbeIds = new[] { c.Result.ProbeId ?? string.Empty },
                    };
                    if (to.Count == 0)
                    {
                        output.Status = NoticeStatus.Skipped;
                        output.Reason = "the notice recorded no recipient: name them with -To";
                        WriteObject(output);
                        continue;
                    }
                    ComposedNotice composed;
                    try
                    {
                        composed = FollowUpComposer.Compose(c, to, cc, Bcc ?? Array.Empty<string>(), options);
                    }
                    catch (FormatException ex)
                    {
                        output.Status = NoticeStatus.Failed;
                        output.Reason = "The follow-up could not be composed: " + ex.Message;
                        WriteError(new ErrorRecord(ex, "NoticeComposeFailed", ErrorCategory.InvalidData, output.Domain));
                        WriteObject(output);
                        continue;
                    }
                    output.MessageId = composed.MessageId;
                    output.Subject = composed.Subject;
                    delivery ??= CreateDelivery();
                    var what = kind == NoticeKind.Reminder ? "reminder" : "resolved follow-up";
                    if (!Confirm(output, $"{output.Domain}: {output.Hosts[0]}", $"{Verb} {what} \"{composed.Subject}\" to {string.Join(", ", to)}{(cc.Count > 0 ? "; Cc " + string.Join(", ", cc) : string.Empty)} via {delivery.Description}", out var declined))
                    {
                        output.Reason = declined;
                        WriteObject(output);
                        continue;
                    }
                    var reserved = Run(() => Task.FromResult(run.ReserveFollowUp(c, period)), "StateUpdateFailed");
                    if (!reserved)
                    {
                        output.Status = NoticeStatus.Skipped;
                        output.Reason = $"another run has sent (or is sending) this {what}";
                        WriteObject(output);
                        continue;
                    }
                    var keys = new List<NoticeHostKey> { key };
                    try
                    {
                        Deliver(run, delivery, composed, keys, kind, to, cc, c.CaseOpenSince, output, $"{what} for {output.Domain}");
                    }
                    catch (Exception ex) when (!(ex is PipelineStoppedException))
                    {
                        var inner = Unwrap(ex);
                        output.Status = NoticeStatus.Failed;
                        output.Reason = $"{Verb} failed: {inner.Message}";
                        WriteError(new ErrorRecord(inner, DeliveryErrorId, ErrorCategory.InvalidOperation, output.Domain));
                        WriteObject(output);
                        continue;
                    }
                    WriteObject(output);
                }
            }
            finally
            {
                delivery?.Dispose();
            }
        }
    }
}

using System;
using System.Collections.Generic;
using Omr.Engine.Notices;

namespace Omr.Engine.Rules
{
    /// <summary>The notice rule: what blocks a new notice to an open host. One small pure function over the notice records.</summary>
    public static class NoticeRules
    {
        /// <summary>
        /// The record that blocks a notice to <paramref name="host"/>: a Sent/Written notice (or reminder) younger than
        /// <paramref name="resendAfter"/> (unless <paramref name="force"/>), or another run's Pending one younger than
        /// <paramref name="pendingTimeout"/>; the youngest such record, or null. The rule of every notice state.
        /// </summary>
        public static NoticeRecord? Blocking(IEnumerable<NoticeRecord> records, NoticeHostKey host, DateTimeOffset now, TimeSpan resendAfter, bool force, string? run, TimeSpan pendingTimeout)
        {
            NoticeRecord? found = null;
            foreach (var r in records)
            {
                if (r.Key != host.Key) continue;
                var blocks = r.Status == NoticeRecord.Pending
                    ? r.Run != run && now - r.Time < pendingTimeout
                    : !force && now - r.Time < resendAfter;
                if (blocks && (found is null || r.Time > found.Time)) found = r;
            }
            return found;
        }
    }
}

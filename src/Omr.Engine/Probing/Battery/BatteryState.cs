using System;
using System.Collections.Generic;
using System.Threading;
using Omr.Engine.Rules;

namespace Omr.Engine.Probing.Battery
{
    /// <summary>What a battery on one connection asks of the connection loop next.</summary>
    internal enum Next
    {
        /// <summary>This connection did what it could; go on if tests remain.</summary>
        Continue,
        /// <summary>Open a fresh connection for what remains (out of step, RSET refused, confirmation).</summary>
        Reconnect,
        /// <summary>Stop the battery (-StopOnFirst).</summary>
        Stop,
    }

    /// <summary>
    /// The relay battery's state for one address, shared by its connections and by the pipelined and the
    /// lock-step battery: which tests are still to run, which outcomes came from pipelined groups and still
    /// need a confirmation, and what the server taught the session (replies out of step: one command at a
    /// time; RSET refused: one transaction per connection; hang-ups and throttling: at most so many tests per
    /// connection). Every change to it is one of the methods below, each saying in the transcript why.
    /// </summary>
    internal sealed class BatteryState
    {
        private const int GroupTagBase = 1 << 21;

        private readonly Transcript _transcript;
        private readonly ProbeFacts _facts;
        private int _completed;

        public BatteryState(Transcript transcript, ProbeFacts facts, int capacity)
        {
            _transcript = transcript;
            _facts = facts;
            Pending = new List<ProbeUnit>(capacity);
        }

        /// <summary>Units still to run, in catalogue order of the contexts that added them.</summary>
        public List<ProbeUnit> Pending { get; }
        /// <summary>Outcomes read from pipelined groups, not yet confirmed one command at a time.</summary>
        public List<ProbeUnit> FromPipeline { get; } = new List<ProbeUnit>();
        /// <summary>A pipelined acceptance still to be confirmed one command at a time; null when none.</summary>
        public ProbeUnit? Confirm { get; private set; }
        /// <summary>The replies were out of step when pipelined: one command, one reply from now on.</summary>
        public bool LockStep { get; private set; }
        /// <summary>RSET was refused, or a MAIL got 503 after an earlier transaction: one transaction per connection.</summary>
        public bool OneTransactionPerConnection { get; private set; }
        /// <summary>Tests were put back to be run again (a connection that did so made progress).</summary>
        public bool Rerun { get; set; }
        /// <summary>
        /// Most tests per connection, once the server was seen to slow down or hang up after that many
        /// refusals (error throttling: Postfix smtpd_soft/hard_error_limit, Exchange tarpitting); 0 = no bound.
        /// </summary>
        public int TestsPerConnection { get; private set; }
        /// <summary>Tests given an outcome on any connection, less those forgotten as out of step: the session's progress.</summary>
        public int Completed => Volatile.Read(ref _completed);
        /// <summary>Transcript tags of transaction lines (MAIL, RSET) shared by several units.</summary>
        public Dictionary<int, int[]> GroupTags { get; } = new Dictionary<int, int[]>();

        /// <summary>The tests one connection may still run: the learned bound, or no bound.</summary>
        public int Quota => TestsPerConnection > 0 ? TestsPerConnection : int.MaxValue;

        /// <summary>The transcript tag of a transaction's own lines: the unit's when it has one test, else a group tag.</summary>
        public int GroupTag(List<ProbeUnit> g)
        {
            if (g.Count == 1) return g[0].Id;
            var ids = new int[g.Count];
            for (int i = 0; i < ids.Length; i++) ids[i] = g[i].Id;
            lock (GroupTags)
            {
                var tag = GroupTagBase + GroupTags.Count;
                GroupTags[tag] = ids;
                return tag;
            }
        }

        /// <summary>
        /// The tests of a batch as transactions: one MAIL FROM per distinct sender, every RCPT TO with
        /// that sender after it (each RCPT is judged on its own, RFC 5321 3.3), in the order the
        /// senders first appear. 25 tests need 6 transactions instead of 25.
        /// </summary>
        public static List<List<ProbeUnit>> BySender(IReadOnlyList<ProbeUnit> units)
        {
            // A handful of senders: a linear look-up beats a dictionary here.
            var groups = new List<List<ProbeUnit>>(8);
            foreach (var u in units)
            {
                List<ProbeUnit>? group = null;
                foreach (var g in groups)
                    if (string.Equals(g[0].MailFrom, u.MailFrom, StringComparison.Ordinal)) { group = g; break; }
                if (group is null) groups.Add(group = new List<ProbeUnit>());
                group.Add(u);
            }
            return groups;
        }

        /// <summary>The test's outcome from its MAIL and RCPT replies. A refused MAIL decides the test even when the server then hangs up on RCPT.</summary>
        public void Record(ProbeUnit u, SmtpReply mail, SmtpReply? rcpt)
        {
            var deciding = mail.IsPositive && rcpt != null ? rcpt : mail;
            if (u.Outcome is null) Interlocked.Increment(ref _completed);
            var outcome = new RelayTestOutcome
            {
                Name = u.Name,
                MailFrom = u.MailFrom,
                RcptTo = u.RcptTo,
                MailReplyCode = mail.Code,
                ReplyCode = deciding.Code,
                EnhancedCode = deciding.EnhancedCode,
                Stage = ReferenceEquals(deciding, mail) ? "MAIL" : "RCPT",
                Accepted = mail.Code == 250 && rcpt != null && (rcpt.Code == 250 || rcpt.Code == 251),
                Proves = u.Test.Definition.Proves,
            };
            SetReplyText(outcome, deciding);
            u.Outcome = outcome;
        }

        /// <summary>
        /// The outcome's text: the reply's text, sanitized. Safe text is cut from the reply line only
        /// when someone reads it (most refusals name the recipient, so each line is unique); unsafe or
        /// over-long text is sanitized now.
        /// </summary>
        internal static void SetReplyText(RelayTestOutcome outcome, SmtpReply reply)
        {
            var cut = reply.TextIfCut;
            if (cut != null) outcome.Text = Transcript.Sanitize(cut);
            else if (ServerText.IsSafe(reply.FirstLine, reply.TextStart, Transcript.MaxEntryLength)) outcome.TextFrom(reply.FirstLine, reply.TextStart);
            else outcome.Text = Transcript.Sanitize(reply.Text);
        }

        /// <summary>Forgets a test's outcome: it is pending again (a reply out of step, a greylist retry, a confirmation that failed).</summary>
        public void Forget(ProbeUnit u, List<ProbeUnit> pending)
        {
            if (u.Outcome is null) return;
            u.Outcome = null;
            Interlocked.Decrement(ref _completed);
            if (!pending.Contains(u)) pending.Add(u);
        }

        /// <summary>The tests of a pipelined group whose replies all came and all answer their commands.</summary>
        public void Commit(List<(ProbeUnit Unit, SmtpReply Mail, SmtpReply Rcpt)> read)
        {
            foreach (var (u, mail, rcpt) in read)
            {
                Record(u, mail, rcpt);
                Pending.Remove(u);
                FromPipeline.Add(u);
            }
            read.Clear();
        }

        /// <summary>After a pipelined group: the first acceptance is confirmed one command at a time before it counts.</summary>
        public void NeedConfirmation()
        {
            if (Confirm != null || _facts.Confirmed) return;
            foreach (var u in FromPipeline)
            {
                if (u.Outcome?.Accepted == true) { Confirm = u; break; }
            }
        }

        /// <summary>The pipelined acceptance was accepted one command at a time too: every pipelined outcome stands.</summary>
        public void Confirmed(ProbeUnit u)
        {
            Confirm = null;
            _facts.Confirmed = true;
            FromPipeline.Clear();
            _transcript.Note($"confirmed: '{u.Name}' is accepted one command at a time too");
        }

        /// <summary>A pipelined stream out of step: nothing of this connection's groups counts.</summary>
        public Next OutOfStep(string why)
        {
            var clean = Transcript.Sanitize(why);
            _transcript.Note($"replies out of step: {clean}; nothing of this connection's groups counts, and the tests run again one command at a time on a fresh connection");
            _facts.OutOfStep ??= clean;
            DiscardPipelined(null);
            return Next.Reconnect;
        }

        /// <summary>Forgets every outcome read from pipelined groups: they run again one command at a time.</summary>
        public void DiscardPipelined(string? why)
        {
            if (why != null)
            {
                _transcript.Note(why);
                _facts.OutOfStep ??= why;
            }
            foreach (var u in FromPipeline)
            {
                u.Outcome = null;
                Interlocked.Decrement(ref _completed);
                if (!Pending.Contains(u)) Pending.Add(u);
            }
            Pending.Sort((x, y) => x.Id.CompareTo(y.Id));
            FromPipeline.Clear();
            Confirm = null;
            LockStep = true;
            Rerun = true;
        }

        /// <summary>A lock-step connection out of step: nothing it read counts.</summary>
        public void OutOfStepOneAtATime(IEnumerable<ProbeUnit> recorded, List<ProbeUnit> pending, string why)
        {
            // A reply that came late (an extra reply to an earlier command) may have been read as
            // the answer to a later one.
            foreach (var u in recorded) Forget(u, pending);
            _facts.OutOfStep ??= Transcript.Sanitize(why);
            _transcript.Note($"replies out of step one command at a time ({Transcript.Sanitize(why)}): nothing this connection read counts");
        }

        public void RsetRefused(SmtpReply rset)
        {
            OneTransactionPerConnection = true;
            _transcript.Note($"RSET refused ({Transcript.Sanitize(rset.ToString())}): the next test would run in a transaction that was never reset; the remaining {Pending.Count} test(s) run one transaction per connection");
        }

        /// <summary>"Sender already specified": the previous transaction was not reset.</summary>
        public void Poisoned(SmtpReply mail)
        {
            OneTransactionPerConnection = true;
            _transcript.Note($"MAIL got 503 after an earlier transaction ({Transcript.Sanitize(mail.ToString())}): the session state is not clean; the remaining {Pending.Count} test(s) run one transaction per connection");
        }

        /// <summary>The server hung up after <paramref name="done"/> tests on one connection: at most that many per connection.</summary>
        public void HungUpAfter(int done)
        {
            if (done <= 0 || (TestsPerConnection != 0 && done >= TestsPerConnection)) return;
            TestsPerConnection = done;
            _transcript.Note($"the server hung up after {done} test(s) on this connection: at most {done} per connection from now on");
        }

        /// <summary>The server slowed down after <paramref name="done"/> tests on one connection (a reply took <paramref name="gap"/>).</summary>
        public void SlowedDownAfter(int done, TimeSpan gap)
        {
            if (TestsPerConnection == 0 || done < TestsPerConnection) TestsPerConnection = done;
            _transcript.Note($"the server slowed down after {done} test(s) on this connection (a reply took {gap.TotalSeconds:0.#} s): at most {TestsPerConnection} per connection from now on");
        }

        /// <summary>
        /// The tests that got 4xx, pending again for the greylist retry. They stay counted in <see cref="Completed"/>:
        /// the address was tested, so a busy greeting on the retry is not "nothing tested yet".
        /// </summary>
        public void RetryTemporary(IEnumerable<ProbeUnit> again)
        {
            foreach (var u in again) { u.Outcome = null; Pending.Add(u); }
        }

        /// <summary>-StopOnFirst: a test was accepted; <paramref name="testsLeft"/> says whether others were never run.</summary>
        public void StoppedAtFirst(bool testsLeft) => _facts.StoppedOnFirst = testsLeft;

        /// <summary>The battery is planned again (another recipient): nothing pending, nothing to confirm.</summary>
        public void Clear()
        {
            Pending.Clear();
            FromPipeline.Clear();
            Confirm = null;
        }
    }
}

using System;
using System.Collections.Generic;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// Without PIPELINING every command costs a round trip: when a second connection to the address is free,
    /// the battery is split over the two. One pure function over the battery's transactions (the tests per
    /// sender, in the order the battery sends them). A transaction costs its MAIL, one RCPT per test and an RSET
    /// before the next one; the second connection first pays its own greeting and EHLO (2 round trips).
    /// </summary>
    public static class SplitPlanner
    {
        /// <summary>
        /// The positions (in the battery's order: sender after sender) of the tests the second connection runs;
        /// empty when one connection is as quick. The cut in battery order that ends both connections soonest,
        /// unless whole transactions in some combination end sooner (the catalogue's 7, 1, 1, 1, 1 and 14 tests
        /// per sender: 19 round trips instead of 20).
        /// </summary>
        public static IReadOnlyList<int> SecondConnection(IReadOnlyList<int> testsPerSender)
        {
            var total = 0;
            foreach (var c in testsPerSender) total += c;
            var theirs = new List<int>();
            if (testsPerSender.Count < 2 || total < 4) return theirs;
            int best = -1, bestCost = int.MaxValue;
            for (int k = 1; k < total; k++)
            {
                int cost = Math.Max(RoundTrips(testsPerSender, 0, k), 2 + RoundTrips(testsPerSender, k, total));
                if (cost < bestCost) { bestCost = cost; best = k; }
            }
            if (BestWholeSplit(testsPerSender, bestCost) is int mask)
            {
                int at = 0;
                for (int i = 0; i < testsPerSender.Count; i++)
                {
                    if ((mask >> i & 1) != 0) for (int j = 0; j < testsPerSender[i]; j++) theirs.Add(at + j);
                    at += testsPerSender[i];
                }
            }
            else if (best > 0)
            {
                for (int j = best; j < total; j++) theirs.Add(j);
            }
            if (theirs.Count == total) theirs.Clear();
            return theirs;
        }

        /// <summary>
        /// The senders' transactions to give the second connection (a bit mask over <paramref name="sizes"/>,
        /// the tests per sender) when whole transactions split the battery into fewer round trips than
        /// <paramref name="toBeat"/>; null otherwise, or when there are too many senders to try every combination.
        /// </summary>
        public static int? BestWholeSplit(IReadOnlyList<int> sizes, int toBeat)
        {
            int n = sizes.Count;
            if (n < 2 || n > 12) return null;
            int total = 0;
            foreach (var c in sizes) total += c;
            int? best = null;
            int bestCost = toBeat;
            for (int mask = 1; mask < (1 << n) - 1; mask++)
            {
                int theirTests = 0, theirs = 0;
                for (int i = 0; i < n; i++) if ((mask >> i & 1) != 0) { theirTests += sizes[i]; theirs++; }
                int cost = Math.Max(CommandRoundTrips(total - theirTests, n - theirs), 2 + CommandRoundTrips(theirTests, theirs));
                if (cost < bestCost) { bestCost = cost; best = mask; }
            }
            return best;
        }

        /// <summary>Round trips of the tests at positions [from, to) one at a time: the transactions they touch, a RCPT each.</summary>
        private static int RoundTrips(IReadOnlyList<int> sizes, int from, int to)
        {
            int transactions = 0, at = 0;
            foreach (var size in sizes)
            {
                if (at < to && at + size > from) transactions++;
                at += size;
            }
            return CommandRoundTrips(to - from, transactions);
        }

        /// <summary>One at a time, <paramref name="tests"/> in <paramref name="transactions"/> cost a RCPT each, a MAIL per transaction and an RSET between two.</summary>
        private static int CommandRoundTrips(int tests, int transactions) => tests + transactions + Math.Max(0, transactions - 1);
    }
}

using System;
using System.Collections.Generic;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// The finished items a scan remembers, at most <c>limit</c>, oldest forgotten first: forgetting one
    /// also takes it out of the index by key (unless the key already names a newer item). Not
    /// thread-safe: the owner holds its lock.
    /// </summary>
    internal sealed class Recent<T> where T : class
    {
        private readonly LinkedList<T> _order = new LinkedList<T>();
        private readonly Dictionary<string, T> _index;
        private readonly Func<T, string> _key;
        private readonly int _limit;
        private readonly Action<T>? _forgotten;

        public Recent(Dictionary<string, T> index, Func<T, string> key, int limit, Action<T>? forgotten = null)
        {
            _index = index; _key = key; _limit = limit; _forgotten = forgotten;
        }

        /// <summary>Remembers <paramref name="item"/> as the most recent; its node lets it be taken back.</summary>
        public LinkedListNode<T> Add(T item)
        {
            var node = _order.AddLast(item);
            while (_order.Count > _limit)
            {
                var old = _order.First!.Value;
                _order.RemoveFirst();
                _forgotten?.Invoke(old);
                var key = _key(old);
                if (_index.TryGetValue(key, out var current) && ReferenceEquals(current, old)) _index.Remove(key);
            }
            return node;
        }

        /// <summary>Takes an item back (it is in use again).</summary>
        public void Remove(LinkedListNode<T> node) => _order.Remove(node);
    }
}

namespace Lifeguard;

/// <summary>
/// The slot numbers of a pool's workers (<see cref="WorkerContext.Slot"/>): how many workers hold each number, and
/// which numbers were left by a worker that is owed a replacement. A number is held from just before its worker's
/// start until the worker leaves the pool (or its start fails). A new worker takes the number a departed worker left
/// for its replacement, else the lowest free one; a replacement started while its worker is still there (warm
/// recycling, a reload's canary) shares its worker's number. Not thread-safe: guarded by the pool's lock.
/// </summary>
internal sealed class SlotNumbers
{
    private readonly List<int> _holders = [];
    private readonly List<int> _vacated = [];

    /// <summary>Reserves a number below <paramref name="cap"/> for a new worker.</summary>
    public int Reserve(int cap)
    {
        // The most recently vacated first: the start that follows a departure is usually its replacement.
        for (int i = _vacated.Count - 1; i >= 0; i--)
        {
            int number = _vacated[i];
            if (number < cap && Holders(number) == 0)
            {
                _vacated.RemoveAt(i);
                Hold(number);
                return number;
            }
        }

        int least = 0;
        for (int number = 0; number < cap; number++)
        {
            int holders = Holders(number);
            if (holders == 0)
            {
                _vacated.Remove(number);
                Hold(number);
                return number;
            }

            if (holders < Holders(least))
            {
                least = number;
            }
        }

        // Every number below the cap is held (a shrink left workers beyond it): share the least held one.
        Hold(least);
        return least;
    }

    /// <summary>One more worker holds <paramref name="number"/> (a replacement sharing its worker's number).</summary>
    public void Hold(int number)
    {
        while (_holders.Count <= number)
        {
            _holders.Add(0);
        }

        _holders[number]++;
    }

    /// <summary>
    /// A worker gave <paramref name="number"/> up; with <paramref name="vacate"/>, its replacement (yet to be started)
    /// should take it.
    /// </summary>
    public void Release(int number, bool vacate)
    {
        _holders[number]--;
        if (vacate && _holders[number] == 0 && !_vacated.Contains(number))
        {
            _vacated.Add(number);
        }
    }

    private int Holders(int number) => number < _holders.Count ? _holders[number] : 0;
}

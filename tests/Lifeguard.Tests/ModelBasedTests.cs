using System.Diagnostics;
using System.Globalization;
using System.Text;
using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Lifeguard.Tests;

/// <summary>
/// Randomized model-based tests of the core pool. Each seed drives one random sequence of operations against a real
/// pool (fake workers, manual clock). After every step the pool is left to quiesce and the design's invariants are
/// checked; in exact mode a small reference model of poolboy's semantics also predicts every count and every
/// caller's outcome. On failure the message names the seed and lists the operations.
/// </summary>
/// <remarks>
/// Reproduce: <c>LIFEGUARD_MODEL_SEEDS=42</c> (or <c>1-100,7000</c>) runs only those seeds;
/// <c>LIFEGUARD_MODEL_VERBOSE=1</c> also echoes every operation to stderr, which is what is left when a failed
/// Debug.Assert kills the test host.
/// </remarks>
public sealed class ModelBasedTests(ITestOutputHelper output)
{
    private const int ExactFirstSeed = 1;
    private const int ExactSequences = 2000;
    private const int ChaosFirstSeed = 1_000_001;
    private const int ChaosSequences = 1000;
    private const int OpsPerSequence = 60;

    [Fact]
    public Task RandomSequences_ExactModel_PoolMatchesModelAndKeepsInvariants()
        => RunSeedsAsync(chaos: false, ExactFirstSeed, ExactSequences);

    [Fact]
    public Task RandomSequences_FailuresBackoffGatesRecycling_KeepInvariants()
        => RunSeedsAsync(chaos: true, ChaosFirstSeed, ChaosSequences);

    private async Task RunSeedsAsync(bool chaos, int firstSeed, int count)
    {
        var mode = chaos ? SequenceMode.Chaos : SequenceMode.Exact;
        var seeds = SelectSeeds(firstSeed, count);
        bool verbose = Environment.GetEnvironmentVariable("LIFEGUARD_MODEL_VERBOSE") == "1";
        var clock = Stopwatch.StartNew();
        var failures = new List<string>();
        long ops = 0;
        int sequences = 0;
        foreach (int seed in seeds)
        {
            var sequence = new ModelSequence(seed, mode, OpsPerSequence, verbose);
            try
            {
                await sequence.RunAsync();
            }
            catch (Exception e)
            {
                failures.Add(sequence.Describe(e));
            }
            finally
            {
                await sequence.CleanupAsync();
            }

            sequences++;
            ops += sequence.OpsExecuted;
            if (failures.Count >= 3)
            {
                break;
            }
        }

        output.WriteLine(
            $"{mode}: {sequences} sequences (seeds {firstSeed}..{firstSeed + count - 1}), {ops} operations, "
                + $"{clock.Elapsed.TotalSeconds:0.0} s, {failures.Count} failed");
        foreach (var failure in failures)
        {
            output.WriteLine(failure);
        }

        if (failures.Count > 0)
        {
            Assert.Fail($"{failures.Count} sequence(s) failed; the first:{Environment.NewLine}{failures[0]}");
        }
    }

    private static List<int> SelectSeeds(int firstSeed, int count)
    {
        var all = Enumerable.Range(firstSeed, count).ToList();
        var filter = Environment.GetEnvironmentVariable("LIFEGUARD_MODEL_SEEDS");
        if (string.IsNullOrWhiteSpace(filter))
        {
            return all;
        }

        var wanted = new HashSet<int>();
        foreach (var part in filter.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var range = part.Split('-');
            int from = int.Parse(range[0], CultureInfo.InvariantCulture);
            int to = range.Length > 1 ? int.Parse(range[1], CultureInfo.InvariantCulture) : from;
            for (int s = from; s <= to; s++)
            {
                wanted.Add(s);
            }
        }

        return all.Where(wanted.Contains).ToList();
    }
}

/// <summary>Exact: no failures, the model predicts everything. Chaos: failures, backoff, gates, recycling; invariants only.</summary>
file enum SequenceMode
{
    Exact,
    Chaos,
}

/// <summary>What a checkout call ended with, or is expected to end with.</summary>
file enum Outcome
{
    Pending,
    Lease,
    Null,
    Timeout,
    Rejected,
    Canceled,
    Backoff,
    StartFailed,
    Stopped,
}

/// <summary>A check of the design failed.</summary>
file sealed class InvariantViolationException(string message) : Exception(message);

/// <summary>One checkout or try-checkout call made by the test, and what became of it.</summary>
file sealed class CheckoutCall(int number, bool isTry, Task<Lease<FakeWorker>?> task, CancellationTokenSource? cts, TimeSpan timeout, long deadline)
{
    public int Number { get; } = number;

    public bool IsTry { get; } = isTry;

    public Task<Lease<FakeWorker>?> Task { get; } = task;

    public CancellationTokenSource? Cts { get; } = cts;

    public TimeSpan Timeout { get; } = timeout;

    /// <summary>Manual-clock ticks at which the wait times out; <see cref="long.MaxValue"/> for never.</summary>
    public long Deadline { get; } = deadline;

    /// <summary>Exact mode: what the model says this call ends with.</summary>
    public Outcome Expected { get; set; } = Outcome.Pending;

    public Outcome Actual { get; set; } = Outcome.Pending;

    public bool Cancelled { get; set; }

    public override string ToString() => $"call#{Number}";
}

/// <summary>A lease the test holds.</summary>
file sealed class HeldLease(CheckoutCall call, Lease<FakeWorker> lease, FakeWorker worker)
{
    public CheckoutCall Call { get; } = call;

    public Lease<FakeWorker> Lease { get; } = lease;

    public FakeWorker Worker { get; } = worker;

    public int WorkerId => Worker.Id;

    /// <summary>The test made its worker die while leased: the pool no longer counts it, disposing is a no-op.</summary>
    public bool Dead { get; set; }

    public override string ToString() => $"lease(w{WorkerId}{(Dead ? ",dead" : string.Empty)} from {Call})";
}

/// <summary>
/// The reference model: poolboy's semantics at the level of counts, at quiescence, for a pool with no failures,
/// no cooldown, no validation and no recycling. Background starts are settled at the end of each transition, which
/// is what the real pool reaches once its starts have run.
/// </summary>
file sealed class PoolModel(int size, int maxOverflow, int? maxWaiters)
{
    public int Size { get; private set; } = size;

    public int MaxOverflow { get; private set; } = maxOverflow;

    public int? MaxWaiters { get; } = maxWaiters;

    public int Idle { get; private set; } = size;

    public int Busy { get; private set; }

    /// <summary>Background starts decided and not yet settled (always 0 between transitions).</summary>
    public int Starting { get; private set; }

    public List<CheckoutCall> Waiters { get; } = [];

    public long Now { get; private set; }

    public int Started { get; private set; } = size;

    public int Stops { get; private set; }

    public long Checkouts { get; private set; }

    public long Timeouts { get; private set; }

    public long Rejections { get; private set; }

    public long Restarts { get; private set; }

    /// <summary>Workers gone for a reason other than dismissal and not yet replaced (a start then is a restart).</summary>
    public int Owed { get; private set; }

    public long Deaths { get; private set; }

    public int Cap => Size + MaxOverflow;

    public int Live => Idle + Busy + Starting;

    public PoolState State => Idle > 0 ? PoolState.Ready : Live < Cap ? PoolState.Overflow : PoolState.Full;

    public Outcome Checkout(CheckoutCall call)
    {
        if (Idle > 0)
        {
            Idle--;
            return Lease();
        }

        if (Live < Cap)
        {
            // The caller waits like any other; the start its checkout makes serves the oldest waiter, which at
            // quiescence is this caller (waiters exist only at the cap).
            Waiters.Add(call);
            call.Expected = Outcome.Pending;
            Reconcile();
            Settle();
            return call.Expected;
        }

        if (call.IsTry)
        {
            return Outcome.Null;
        }

        if (call.Timeout == TimeSpan.Zero)
        {
            Timeouts++;
            return Outcome.Timeout;
        }

        if (MaxWaiters is { } max && Waiters.Count >= max)
        {
            Rejections++;
            return Outcome.Rejected;
        }

        Waiters.Add(call);
        return Outcome.Pending;
    }

    public void Checkin(bool broken)
    {
        Busy--;
        if (broken)
        {
            Stops++;
            Owe();
            Reconcile();
            Settle();
        }
        else
        {
            AddAvailable();
        }
    }

    public void DieIdle()
    {
        Idle--;
        Died();
    }

    public void DieBusy()
    {
        Busy--;
        Died();
    }

    public void Cancel(CheckoutCall call)
    {
        if (Waiters.Remove(call))
        {
            call.Expected = Outcome.Canceled;
        }
    }

    public void Advance(long ticks)
    {
        Now += ticks;
        foreach (var waiter in Waiters.Where(w => w.Deadline <= Now).ToList())
        {
            Waiters.Remove(waiter);
            waiter.Expected = Outcome.Timeout;
            Timeouts++;
        }
    }

    public void Resize(int size, int maxOverflow)
    {
        Size = size;
        MaxOverflow = maxOverflow;
        while (Idle > 0 && Live > Size)
        {
            Idle--;
            Stops++;
        }

        Reconcile();
        Settle();
    }

    public void Stop()
    {
        foreach (var waiter in Waiters)
        {
            waiter.Expected = Outcome.Stopped;
        }

        Waiters.Clear();
    }

    private void Died()
    {
        Deaths++;
        Stops++;
        Owe();
        Reconcile();
        Settle();
    }

    private Outcome Lease()
    {
        Busy++;
        Checkouts++;
        return Outcome.Lease;
    }

    /// <summary>A worker in hand: to the first waiter; else dismissed if surplus (or above the cap); else idle.</summary>
    private void AddAvailable()
    {
        int liveWithSlot = Live + 1;
        if (liveWithSlot > Cap || (liveWithSlot > Size && Waiters.Count == 0 && Starting == 0))
        {
            Stops++;
            return;
        }

        if (Waiters.Count > 0)
        {
            var waiter = Waiters[0];
            Waiters.RemoveAt(0);
            waiter.Expected = Lease();
            return;
        }

        Idle++;
    }

    /// <summary>Start enough to keep Size workers and, up to the cap, one per waiter no start will serve.</summary>
    private void Reconcile()
    {
        int want = Math.Max(Size - Live, Math.Min(Cap - Live, Waiters.Count - Starting));
        if (want > 0)
        {
            Starting += want;
            Started += want;
            int replacing = Math.Min(want, Owed);
            Owed -= replacing;
            Restarts += replacing;
        }
    }

    private void Owe()
    {
        if (Owed < Cap)
        {
            Owed++;
        }
    }

    /// <summary>Runs the starts; once none is left and nobody waits, surplus idle workers are dismissed.</summary>
    private void Settle()
    {
        while (Starting > 0)
        {
            Starting--;
            AddAvailable();
            Reconcile();
        }

        while (Idle > 0 && Live > Size && Waiters.Count == 0)
        {
            Idle--;
            Stops++;
        }
    }

    public override string ToString()
        => $"model: size {Size}, maxOverflow {MaxOverflow}, idle {Idle}, busy {Busy}, waiters [{string.Join(",", Waiters)}], "
            + $"started {Started}, stops {Stops}, checkouts {Checkouts}, timeouts {Timeouts}, rejections {Rejections}, "
            + $"restarts {Restarts}, deaths {Deaths}";
}

/// <summary>A worker factory that can make starts fail, make workers die during their start, and validate workers.</summary>
file class ChaosFactory(FakeWorkerFactory inner, int seed) : IWorkerFactory<FakeWorker>
{
    private int _diedDuringStart;

    public FakeWorkerFactory Inner { get; } = inner;

    /// <summary>Percent of start attempts (by attempt number, deterministic per seed) that throw.</summary>
    public int FailPercent { get; set; }

    /// <summary>Percent of started workers (by worker id) that report death before the start returns.</summary>
    public int DieDuringStartPercent { get; set; }

    public int DiedDuringStart => Volatile.Read(ref _diedDuringStart);

    public bool EverInjected { get; private set; }

    public void SetRates(int failPercent, int diePercent)
    {
        FailPercent = failPercent;
        DieDuringStartPercent = diePercent;
        EverInjected |= failPercent > 0 || diePercent > 0;
        Inner.FailStart = failPercent == 0 ? null : attempt => Roll(seed, attempt, 1) < failPercent
            ? new InvalidOperationException($"injected start failure (attempt {attempt})")
            : null;
    }

    public async ValueTask<FakeWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
    {
        var worker = await Inner.StartAsync(context, cancellationToken);
        if (DieDuringStartPercent > 0 && Roll(seed, context.WorkerId, 2) < DieDuringStartPercent)
        {
            Interlocked.Increment(ref _diedDuringStart);
            worker.Die(new InvalidOperationException("injected death during start"));
        }

        return worker;
    }

    public ValueTask StopAsync(FakeWorker worker) => Inner.StopAsync(worker);

    /// <summary>A deterministic 0..99 roll from the seed, a number and a salt.</summary>
    public static int Roll(int seed, int number, int salt)
    {
        ulong x = ((ulong)(uint)seed << 32) ^ (uint)number ^ ((ulong)salt << 60);
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdUL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53UL;
        x ^= x >> 33;
        return (int)(x % 100);
    }
}

/// <summary>A <see cref="ChaosFactory"/> whose workers are validated at checkout (<see cref="FakeWorker.Healthy"/>).</summary>
file sealed class ValidatingChaosFactory(FakeWorkerFactory inner, int seed) : ChaosFactory(inner, seed), IWorkerValidator<FakeWorker>
{
    private int _failedValidations;

    public int FailedValidations => Volatile.Read(ref _failedValidations);

    public ValueTask<bool> ValidateAsync(FakeWorker worker, CancellationToken cancellationToken)
    {
        if (!worker.Healthy)
        {
            Interlocked.Increment(ref _failedValidations);
        }

        return new(worker.Healthy);
    }
}

/// <summary>One seeded sequence: the pool, the model, the test's own bookkeeping, the operations and the checks.</summary>
file sealed class ModelSequence
{
    // A bound, not a wait: quiescence normally takes milliseconds, but on a loaded machine with every test class
    // running at once the fake workers' starts and stops can be scheduled late.
    private const int QuiesceTimeoutMs = 30_000;
    private const int ManyRestarts = 1_000_000;

    private readonly int _seed;
    private readonly SequenceMode _mode;
    private readonly int _opCount;
    private readonly bool _verbose;
    private readonly Random _rng;
    private readonly FakeTimeProvider _time = new();
    private readonly FakeWorkerFactory _fakes = new();
    private readonly ChaosFactory _factory;
    private readonly PoolOptions _options;
    private readonly PoolModel? _model;
    private readonly List<string> _log = [];
    private readonly List<CheckoutCall> _calls = [];
    private readonly List<HeldLease> _held = [];
    private readonly List<Lease<FakeWorker>> _returned = [];
    private readonly List<FakeWorker> _broken = [];
    private readonly long _startTicks;
    private Pool<FakeWorker>? _pool;
    private int _callNumber;
    private bool _gateClosed;
    private int _gatedOps;
    private int _cap;
    private int _liveBound;
    private readonly List<Task> _reloads = [];
    private int _deathsCaused;
    private long _leasesReceived;
    private long _timeoutsReceived;
    private long _rejectionsReceived;
    private bool _stopping;

    public ModelSequence(int seed, SequenceMode mode, int opCount, bool verbose)
    {
        _seed = seed;
        _mode = mode;
        _opCount = opCount;
        _verbose = verbose;
        _rng = new Random(seed);
        _startTicks = _time.GetTimestamp();
        int size = _rng.Next(0, 4);
        int maxOverflow = _rng.Next(0, 4);
        if (size + maxOverflow == 0)
        {
            maxOverflow = 1;
        }

        int? maxWaiters = _rng.Next(4) == 0 ? _rng.Next(0, 3) : null;
        bool validating = mode == SequenceMode.Chaos && _rng.Next(4) == 0;
        _factory = validating ? new ValidatingChaosFactory(_fakes, seed) : new ChaosFactory(_fakes, seed);
        _options = new PoolOptions
        {
            Name = $"model-{seed}",
            Size = size,
            MaxOverflow = maxOverflow,
            MaxWaiters = maxWaiters,
            Strategy = _rng.Next(2) == 0 ? PoolStrategy.Lifo : PoolStrategy.Fifo,
            CheckoutTimeout = TimeSpan.FromSeconds(_rng.Next(1, 4)),
            OverflowIdleTimeout = TimeSpan.Zero,
            MaxRestarts = ManyRestarts,
            RestartWindow = TimeSpan.FromSeconds(10),
            BackoffInitialDelay = TimeSpan.FromMilliseconds(100),
            BackoffMaxDelay = TimeSpan.FromMilliseconds(800),
            DrainTimeout = TimeSpan.FromSeconds(1),
            TimeProvider = _time,
        };
        if (mode == SequenceMode.Chaos)
        {
            _options.MaxRestarts = _rng.Next(5) switch { 0 => ManyRestarts, int n => n - 1 };
            _options.MaxUsesPerWorker = _rng.Next(3) == 0 ? _rng.Next(1, 5) : null;
            _options.OverflowIdleTimeout = _rng.Next(3) == 0 ? TimeSpan.FromMilliseconds(500) : TimeSpan.Zero;
        }
        else
        {
            _model = new PoolModel(size, maxOverflow, maxWaiters);
        }

        _cap = size + maxOverflow;
        _liveBound = _cap;
    }

    private enum Op
    {
        Checkout,
        TryCheckout,
        Checkin,
        BrokenCheckin,
        DieIdle,
        DieLeased,
        CancelWaiter,
        Advance,
        Resize,
        Stale,
        SetFailures,
        CloseGate,
        OpenGate,
        RecycleAll,
        MakeUnhealthy,
        Reload,
    }

    public int OpsExecuted { get; private set; }

    private Pool<FakeWorker> Pool => _pool!;

    private bool Chaos => _mode == SequenceMode.Chaos;

    private bool BackoffPossible => Chaos && _options.MaxRestarts < ManyRestarts;

    /// <summary>Surplus workers stay idle until their cooldown passes (chaos only).</summary>
    private bool Cooldown => _options.OverflowIdleTimeout > TimeSpan.Zero;

    public async Task RunAsync()
    {
        Log($"config: {_mode}, size {_options.Size}, maxOverflow {_options.MaxOverflow}, maxWaiters {_options.MaxWaiters?.ToString(CultureInfo.InvariantCulture) ?? "none"}, "
            + $"{_options.Strategy}, checkoutTimeout {_options.CheckoutTimeout.TotalSeconds}s, maxRestarts {_options.MaxRestarts}, "
            + $"maxUses {_options.MaxUsesPerWorker?.ToString(CultureInfo.InvariantCulture) ?? "none"}, validating {_factory is ValidatingChaosFactory}, "
            + $"overflow cooldown {_options.OverflowIdleTimeout.TotalMilliseconds}ms");
        _pool = await Lifeguard.Pool.StartAsync(_options, _factory);
        await SettleAndCheckAsync();
        for (int i = 0; i < _opCount; i++)
        {
            await StepAsync(PickOp());
            OpsExecuted++;
        }

        await FinishAsync();
    }

    /// <summary>Returns every lease and stops the pool, whatever state a failure left it in.</summary>
    public async Task CleanupAsync()
    {
        _fakes.OpenGate();
        foreach (var held in _held)
        {
            held.Lease.Dispose();
        }

        if (_pool is not null)
        {
            try
            {
                var stop = Pool.StopAsync();
                _time.Advance(_options.DrainTimeout);
                await stop.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is TimeoutException or PoolStoppedException)
            {
                // Already reported by the failing check, if it matters.
            }
        }

        foreach (var call in _calls)
        {
            call.Cts?.Dispose();
        }
    }

    public string Describe(Exception e)
    {
        var text = new StringBuilder();
        string what = e is InvariantViolationException ? "invariant violated" : e.GetType().Name;
        text.AppendLine(CultureInfo.InvariantCulture, $"seed {_seed} ({_mode}) failed after {OpsExecuted} operations: {what}: {e.Message}");
        if (e is not InvariantViolationException)
        {
            text.AppendLine(e.ToString());
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"reproduce: LIFEGUARD_MODEL_SEEDS={_seed} dotnet test --filter ModelBasedTests");
        if (_pool is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"pool: {SafeStatus()}");
        }

        if (_model is not null)
        {
            text.AppendLine(_model.ToString());
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"factory: started {_fakes.Started}, stops {_fakes.Stops}, attempts {_fakes.StartAttempts}, failed {_fakes.FailedStarts}");
        text.AppendLine("operations:");
        foreach (var line in _log)
        {
            text.Append("  ").AppendLine(line);
        }

        return text.ToString();
    }

    private string SafeStatus()
    {
        try
        {
            var s = Pool.GetStatus();
            return $"{s} workers [{string.Join(", ", s.Workers.Select(w => $"w{w.Id}:{w.State}"))}]";
        }
        catch (Exception e)
        {
            return $"(status threw {e.GetType().Name})";
        }
    }

    private void Log(string line)
    {
        _log.Add(line);
        if (_verbose)
        {
            Console.Error.WriteLine($"[seed {_seed}] {line}");
        }
    }

    private Op PickOp()
    {
        if (_gateClosed && _gatedOps >= 4)
        {
            return Op.OpenGate;
        }

        bool anyLive = _held.Exists(h => !h.Dead);
        bool anyIdle = _model?.Idle > 0 || (_model is null && Pool.GetStatus().Idle > 0);
        bool anyCancellable = _calls.Exists(c => c.Cts is not null && !c.Cancelled && IsWaiting(c));
        var weights = new List<(Op Op, int Weight)>
        {
            (Op.Checkout, 22),
            (Op.TryCheckout, 8),
            (Op.Checkin, _held.Count > 0 ? 22 : 0),
            (Op.BrokenCheckin, _held.Count > 0 ? 6 : 0),
            (Op.DieIdle, anyIdle ? 5 : 0),
            (Op.DieLeased, anyLive ? 5 : 0),
            (Op.CancelWaiter, anyCancellable ? 7 : 0),
            (Op.Advance, 7),
            (Op.Resize, 4),
            (Op.Stale, _returned.Count > 0 ? 3 : 0),
        };
        if (Chaos)
        {
            weights.Add((Op.SetFailures, 3));
            weights.Add((Op.CloseGate, _gateClosed ? 0 : 3));
            weights.Add((Op.OpenGate, _gateClosed ? 6 : 0));
            weights.Add((Op.RecycleAll, 2));
            // One reload at a time: a queued one would start its canary on the thread pool whenever the one before
            // it ends, after the pool looked quiescent (concurrent reloads have tests of their own).
            weights.Add((Op.Reload, _reloads.TrueForAll(r => r.IsCompleted) ? 2 : 0));
            weights.Add((Op.MakeUnhealthy, _factory is ValidatingChaosFactory ? 4 : 0));
        }

        int total = weights.Sum(w => w.Weight);
        int roll = _rng.Next(total);
        foreach (var (op, weight) in weights)
        {
            if (roll < weight)
            {
                return op;
            }

            roll -= weight;
        }

        throw new UnreachableException();
    }

    /// <summary>Whether the test still considers the call in the pool's queue (exact: the model's; chaos: not completed).</summary>
    private bool IsWaiting(CheckoutCall call)
        => _model is not null ? _model.Waiters.Contains(call) : !call.Task.IsCompleted && !call.IsTry;

    private async Task StepAsync(Op op)
    {
        string what = op switch
        {
            Op.Checkout => Checkout(isTry: false),
            Op.TryCheckout => Checkout(isTry: true),
            Op.Checkin => await CheckinAsync(broken: false),
            Op.BrokenCheckin => await CheckinAsync(broken: true),
            Op.DieIdle => DieIdle(),
            Op.DieLeased => DieLeased(),
            Op.CancelWaiter => CancelWaiter(),
            Op.Advance => Advance(),
            Op.Resize => Resize(),
            Op.Stale => Stale(),
            Op.SetFailures => SetFailures(),
            Op.CloseGate => CloseGate(),
            Op.OpenGate => OpenGate(),
            Op.RecycleAll => RecycleAll(),
            Op.Reload => Reload(),
            Op.MakeUnhealthy => MakeUnhealthy(),
            _ => throw new UnreachableException(),
        };
        Log($"#{OpsExecuted + 1} {what}");
        if (_gateClosed)
        {
            _gatedOps++;
            Harvest();
            var stoppedBefore = StoppedWorkers();
            CheckSnapshot(Pool.GetStatus(), stoppedBefore, quiesced: false);
        }
        else
        {
            await SettleAndCheckAsync();
        }
    }

    private string Checkout(bool isTry)
    {
        int number = ++_callNumber;
        long now = _time.GetTimestamp() - _startTicks;
        TimeSpan timeout;
        CancellationTokenSource? cts = null;
        Task<Lease<FakeWorker>?> task;
        string how;
        if (isTry)
        {
            timeout = TimeSpan.Zero;
            task = Await(Pool.TryCheckoutAsync());
            how = "try-checkout";
        }
        else
        {
            int kind = _rng.Next(10);
            bool useDefault = false;
            if (kind == 0)
            {
                timeout = TimeSpan.Zero;
            }
            else if (kind <= 2)
            {
                timeout = Timeout.InfiniteTimeSpan;
            }
            else if (kind == 3)
            {
                timeout = _options.CheckoutTimeout;
                useDefault = true;
            }
            else
            {
                timeout = TimeSpan.FromSeconds(_rng.Next(1, 6));
            }

            if (timeout == Timeout.InfiniteTimeSpan || _rng.Next(3) > 0)
            {
                cts = new CancellationTokenSource();
            }

            var token = cts?.Token ?? CancellationToken.None;
            task = Await(useDefault ? Pool.CheckoutAsync(token) : Pool.CheckoutAsync(timeout, token));
            how = $"checkout(timeout {(timeout == Timeout.InfiniteTimeSpan ? "infinite" : timeout.TotalSeconds + "s")}{(useDefault ? " default" : string.Empty)}{(cts is null ? string.Empty : ", token")})";
        }

        long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : now + timeout.Ticks;
        var call = new CheckoutCall(number, isTry, task, cts, timeout, deadline);
        _calls.Add(call);
        if (_model is not null)
        {
            call.Expected = _model.Checkout(call);
            return $"{how} -> {call}, model expects {call.Expected}";
        }

        return $"{how} -> {call}";
    }

    private async Task<string> CheckinAsync(bool broken)
    {
        int index = _rng.Next(_held.Count);
        var held = _held[index];
        _held.RemoveAt(index);
        bool useAsync = _rng.Next(2) == 0;
        if (broken)
        {
            held.Lease.MarkBroken();
        }

        if (useAsync)
        {
            await held.Lease.DisposeAsync();
        }
        else
        {
            held.Lease.Dispose();
        }

        if (!held.Dead)
        {
            _model?.Checkin(broken);
            if (broken)
            {
                _broken.Add(held.Worker);
            }
        }

        Check(!held.Lease.IsActive, $"{held} is still active after it was disposed");
        _returned.Add(held.Lease);
        if (_returned.Count > 16)
        {
            _returned.RemoveAt(0);
        }

        return $"{(broken ? "mark-broken + " : string.Empty)}checkin {held}{(useAsync ? " (async)" : string.Empty)}";
    }

    private string DieIdle()
    {
        var idle = Pool.GetStatus().Workers.Where(w => w.State == WorkerState.Idle).Select(w => w.Id).Order().ToList();
        if (idle.Count == 0)
        {
            Check(_model is null, "the model has idle workers but the pool has none");
            return "die idle: none idle";
        }

        int id = idle[_rng.Next(idle.Count)];
        var worker = FindWorker(id);
        _model?.DieIdle();
        _deathsCaused++;
        worker.Die(new InvalidOperationException("test killed an idle worker"));
        return $"die idle w{id}";
    }

    private string DieLeased()
    {
        var live = _held.Where(h => !h.Dead).ToList();
        var held = live[_rng.Next(live.Count)];
        held.Dead = true;
        _model?.DieBusy();
        _deathsCaused++;
        held.Worker.Die(new InvalidOperationException("test killed a leased worker"));
        return $"die leased {held}";
    }

    private string CancelWaiter()
    {
        var candidates = _calls.Where(c => c.Cts is not null && !c.Cancelled && IsWaiting(c)).ToList();
        if (candidates.Count == 0)
        {
            return "cancel (none: the waiting calls completed since the operation was chosen)"; // chaos: completions are asynchronous
        }

        var call = candidates[_rng.Next(candidates.Count)];
        call.Cancelled = true;
        _model?.Cancel(call);
        call.Cts!.Cancel();
        return $"cancel {call}";
    }

    private string Advance()
    {
        long now = _time.GetTimestamp() - _startTicks;
        var deadlines = _calls.Where(c => IsWaiting(c) && c.Deadline != long.MaxValue).Select(c => c.Deadline).ToList();
        long by;
        int kind = _rng.Next(Chaos ? 5 : 4);
        if (deadlines.Count > 0 && kind <= 1)
        {
            // Exactly to a deadline (it fires), or one tick short of it (it does not).
            by = Math.Max(0, deadlines[_rng.Next(deadlines.Count)] - now - (kind == 1 ? 1 : 0));
        }
        else if (kind == 4)
        {
            // Chaos: around backoff delays and past the restart window.
            by = _rng.Next(2) == 0 ? TimeSpan.FromMilliseconds(_rng.Next(50, 900)).Ticks : TimeSpan.FromSeconds(11).Ticks;
        }
        else
        {
            by = TimeSpan.FromMilliseconds(_rng.Next(1, 6000)).Ticks;
        }

        _model?.Advance(by);
        _time.Advance(TimeSpan.FromTicks(by));
        return $"advance {TimeSpan.FromTicks(by).TotalMilliseconds}ms (now {TimeSpan.FromTicks(now + by).TotalMilliseconds}ms)";
    }

    private string Resize()
    {
        int size = _rng.Next(0, 5);
        int maxOverflow = _rng.Next(0, 4);
        bool invalid = _rng.Next(20) == 0;
        if (invalid)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Pool.Resize(-1, maxOverflow));
            Assert.Throws<ArgumentOutOfRangeException>(() => Pool.Resize(0, 0));
            return "resize(-1 and 0+0) -> rejected";
        }

        if (size + maxOverflow == 0)
        {
            size = 1;
        }

        int liveBefore = Pool.GetStatus().Live;
        _cap = size + maxOverflow;
        _liveBound = Math.Max(_cap, Math.Min(_liveBound, liveBefore));
        _model?.Resize(size, maxOverflow);
        Pool.Resize(size, maxOverflow);
        return $"resize({size}, {maxOverflow})";
    }

    private string Stale()
    {
        var lease = _returned[_rng.Next(_returned.Count)];
        Check(!lease.IsActive, "a returned lease is active again");
        Assert.Throws<ObjectDisposedException>(() => lease.Worker);
        if (_rng.Next(2) == 0)
        {
            lease.MarkBroken();
        }

        lease.Dispose();
        return $"stale dispose of a returned lease on w{lease.WorkerId}";
    }

    private string SetFailures()
    {
        int fail = _rng.Next(4) switch { 0 => 0, 1 => 20, 2 => 50, _ => BackoffPossible ? 100 : 40 };
        int die = _rng.Next(3) == 0 ? 30 : 0;
        _factory.SetRates(fail, die);
        return $"set start failures {fail}%, deaths during start {die}%";
    }

    private string CloseGate()
    {
        _fakes.CloseGate();
        _gateClosed = true;
        _gatedOps = 0;
        return "close gate (starts wait)";
    }

    private string OpenGate()
    {
        _fakes.OpenGate();
        _gateClosed = false;
        return "open gate";
    }

    private string RecycleAll()
    {
        Pool.RecycleAll();
        return "recycle all";
    }

    /// <summary>Begins a reload, not awaited: it runs alongside the next operations (reloads queue one after another).</summary>
    private string Reload()
    {
        _reloads.Add(Pool.ReloadAsync());
        return "reload";
    }

    private string MakeUnhealthy()
    {
        var workers = Pool.GetStatus().Workers;
        if (workers.Count == 0)
        {
            return "make unhealthy: no worker";
        }

        var id = workers[_rng.Next(workers.Count)].Id;
        FindWorker(id).Healthy = false;
        return $"make w{id} unhealthy";
    }

    private FakeWorker FindWorker(int id)
        => _fakes.All.FirstOrDefault(w => w.Id == id) ?? throw new InvariantViolationException($"the pool lists w{id}, which the factory never started");

    private async Task FinishAsync()
    {
        if (Chaos)
        {
            _factory.SetRates(0, 0);
            if (!_gateClosed || _rng.Next(3) > 0)
            {
                Log("end: open gate, failures off");
                OpenGate();
                await SettleAndCheckAsync();

                // Backoff always probes: with failures off, the next probe succeeds and ends it.
                if (Pool.GetStatus().State == PoolState.Backoff)
                {
                    Log($"end: in backoff, advance {_options.BackoffMaxDelay.TotalMilliseconds}ms (the longest probe delay)");
                    _time.Advance(_options.BackoffMaxDelay);
                    await SettleAndCheckAsync();
                    var after = Pool.GetStatus();
                    Check(after.State != PoolState.Backoff, $"still in backoff after the longest probe delay with failures off: {after}");
                }

                // Once the cooldown has passed, no surplus worker is left idle.
                if (Cooldown)
                {
                    Log($"end: advance {_options.OverflowIdleTimeout.TotalMilliseconds}ms (the overflow cooldown)");
                    _time.Advance(_options.OverflowIdleTimeout);
                    await SettleAndCheckAsync();
                    var after = Pool.GetStatus();
                    Check(after.Idle == 0 || after.Live - after.Replacing <= after.Size, $"idle surplus workers left after the cooldown passed: {after}");
                }
            }
            else
            {
                Log("end: stopping with starts held at the gate");
            }
        }

        bool returnFirst = _rng.Next(2) == 0;
        if (returnFirst)
        {
            Log("end: return every lease, then stop");
            while (_held.Count > 0)
            {
                await CheckinAsync(broken: false);
            }

            if (!_gateClosed)
            {
                await SettleAndCheckAsync();
            }
        }

        Log("end: stop");
        _stopping = true;
        _model?.Stop();
        var stop = Pool.StopAsync();
        int live = _held.Count(h => !h.Dead);
        if (live > 0)
        {
            Check(!stop.IsCompleted, $"the stop completed while {live} leases were out and the drain timeout had not passed");
            int returning = _rng.Next(live + 1);
            Log($"end: return {returning} of {live} leases while stopping");
            for (int i = 0; i < returning; i++)
            {
                await CheckinAsync(broken: _rng.Next(4) == 0);
            }
        }

        _time.Advance(_options.DrainTimeout);
        await stop.WaitAsync(TimeSpan.FromSeconds(10));
        _fakes.OpenGate();

        // The stop completes only once every worker has been stopped.
        var s = Pool.GetStatus();
        Check(s.State == PoolState.Stopped && s.Idle == 0 && s.Busy == 0 && s.Starting == 0 && s.Waiters == 0, $"after stop: {s}");
        Check(_fakes.Running == 0, $"after stop {_fakes.Running} workers still run");
        foreach (var worker in _fakes.All)
        {
            Check(worker.StopCount == 1, $"after stop w{worker.Id} was stopped {worker.StopCount} times");
        }

        // Callers still queued failed with PoolStoppedException; late leases and stale disposals change nothing.
        await PollAsync(() => _calls.TrueForAll(c => c.Task.IsCompleted), QuiesceTimeoutMs);
        Harvest();
        foreach (var call in _calls)
        {
            Check(call.Actual != Outcome.Pending, $"{call} never completed after the stop");
        }

        while (_held.Count > 0)
        {
            await CheckinAsync(broken: false);
        }

        Check(_fakes.Running == 0 && _fakes.Stops == _fakes.Started, "a lease disposed after the stop changed the workers");

        // Every reload ended: it rolled out, its canary failed, or the stop ended it.
        await PollAsync(() => _reloads.TrueForAll(r => r.IsCompleted), QuiesceTimeoutMs);
        foreach (var reload in _reloads)
        {
            Check(reload.IsCompleted, "a reload never ended after the stop");
            var error = reload.Exception?.InnerException;
            Check(error is null or WorkerStartException or PoolStoppedException, $"a reload failed with {error}");
        }

        await Assert.ThrowsAsync<PoolStoppedException>(async () => await Pool.CheckoutAsync());
        await Assert.ThrowsAsync<PoolStoppedException>(async () => await Pool.TryCheckoutAsync());
        Assert.Throws<PoolStoppedException>(() => Pool.Resize(2, 2));
        Assert.Throws<PoolStoppedException>(() => Pool.RecycleAll());
        await Pool.DisposeAsync();
    }

    /// <summary>Waits (bounded) until the pool is quiescent, then takes in completed calls and checks everything.</summary>
    private async Task SettleAndCheckAsync()
    {
        bool quiet = await PollAsync(IsQuiescent, QuiesceTimeoutMs);
        Harvest();
        var stoppedBefore = StoppedWorkers();
        var status = Pool.GetStatus();
        if (!quiet)
        {
            throw new InvariantViolationException(
                $"the pool did not quiesce within {QuiesceTimeoutMs} ms: {status}; factory running {_fakes.Running}; "
                    + $"incomplete calls [{string.Join(",", _calls.Where(c => !c.Task.IsCompleted))}]");
        }

        CheckSnapshot(status, stoppedBefore, quiesced: true);
        if (_model is not null)
        {
            CheckModel(status);
        }
    }

    /// <summary>No start or stop in flight, every stop done, and every call the pool has completed has completed.</summary>
    private bool IsQuiescent()
    {
        var s = Pool.GetStatus();
        return s.Starting == 0
            && s.Stopping == 0
            && _fakes.Running == s.Idle + s.Busy
            && _calls.Count(c => !c.Task.IsCompleted) == s.Waiters;
    }

    private static async Task<bool> PollAsync(Func<bool> condition, int timeoutMs)
    {
        if (condition())
        {
            return true;
        }

        var clock = Stopwatch.StartNew();
        var spinner = default(SpinWait);
        while (clock.ElapsedMilliseconds < timeoutMs)
        {
            if (spinner.Count < 40)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
            else
            {
                await Task.Delay(1);
            }

            if (condition())
            {
                return true;
            }
        }

        return condition();
    }

    /// <summary>Takes in every call that completed: leases join the held set; each outcome is checked.</summary>
    private void Harvest()
    {
        foreach (var call in _calls)
        {
            if (call.Actual != Outcome.Pending || !call.Task.IsCompleted)
            {
                continue;
            }

            Exception? error = null;
            Lease<FakeWorker>? lease = null;
            try
            {
                // Rethrows the original exception, cancellations included.
                lease = call.Task.GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                error = e;
            }

            call.Actual = error switch
            {
                null => lease is null ? Outcome.Null : Outcome.Lease,
                PoolTimeoutException => Outcome.Timeout,
                PoolRejectedException => Outcome.Rejected,
                PoolBackoffException => Outcome.Backoff,
                WorkerStartException => Outcome.StartFailed,
                PoolStoppedException => Outcome.Stopped,
                OperationCanceledException => Outcome.Canceled,
                _ => throw new InvariantViolationException($"{call} failed with an unexpected {error}"),
            };
            Log($"   {call} -> {call.Actual}{(lease is { } l ? $" w{l.WorkerId}" : string.Empty)}{(error is null ? string.Empty : $" ({error.GetType().Name})")}");
            CheckOutcome(call, error);
            if (lease is { } got)
            {
                _leasesReceived++;
                Check(got.IsActive, $"{call} received an inactive lease");
                var worker = got.Worker;
                Check(_stopping || !worker.IsStopped || worker.Context.IsTerminated, $"{call} received w{worker.Id}, which was stopped");
                Check(!_held.Exists(h => !h.Dead && h.WorkerId == worker.Id), $"{call} received w{worker.Id}, which another held lease holds");
                _held.Add(new HeldLease(call, got, worker));
            }
            else if (call.Actual == Outcome.Timeout)
            {
                _timeoutsReceived++;
            }
            else if (call.Actual == Outcome.Rejected)
            {
                _rejectionsReceived++;
            }
        }
    }

    private void CheckOutcome(CheckoutCall call, Exception? error)
    {
        if (_model is not null)
        {
            Check(call.Actual == call.Expected, $"{call} ended with {call.Actual} but the model expected {call.Expected}");
        }

        if (error is OperationCanceledException canceled)
        {
            Check(call.Cts is not null && canceled.CancellationToken == call.Cts.Token, $"{call}: the cancellation does not carry the caller's token");
        }

        long now = _time.GetTimestamp() - _startTicks;
        bool ok = call.Actual switch
        {
            Outcome.Lease => true,
            Outcome.Null => call.IsTry,
            Outcome.Timeout => !call.IsTry && (call.Timeout == TimeSpan.Zero || now >= call.Deadline),
            Outcome.Rejected => !call.IsTry && _options.MaxWaiters is not null,
            Outcome.Canceled => call.Cancelled,
            Outcome.Backoff => BackoffPossible,
            Outcome.StartFailed => _factory.EverInjected,
            Outcome.Stopped => _stopping,
            _ => false,
        };
        Check(ok, $"{call} ended with {call.Actual}, which nothing explains ({error?.Message})");
    }

    /// <summary>Ids of the workers stopped so far. Read before a snapshot: none of them may be listed in it.</summary>
    private HashSet<int> StoppedWorkers() => _fakes.All.Where(w => w.IsStopped).Select(w => w.Id).ToHashSet();

    /// <summary>
    /// The invariants of the design, on one consistent snapshot (quiesced: also the ones that need it). Without
    /// quiescence, work on the thread pool (a served waiter's validation, say) may change things right after the
    /// snapshot, so only what holds at that instant is checked.
    /// </summary>
    private void CheckSnapshot(PoolStatus s, HashSet<int> stoppedBefore, bool quiesced)
    {
        int cap = s.Size + s.MaxOverflow;
        Check(s.Size + s.MaxOverflow == _cap, $"the pool's cap is {s.Size}+{s.MaxOverflow}, the test set {_cap}");
        // A reload may take the pool one over its cap (its canary, and the replacement of an idle old worker).
        int reloadAllowance = s.Replacing > 0 || _reloads.Exists(r => !r.IsCompleted) ? 1 : 0;
        Check(s.Live <= _liveBound + reloadAllowance, $"live {s.Live} exceeds the cap {cap} (allowed up to {_liveBound} after a shrink, {reloadAllowance} more for a reload)");
        _liveBound = Math.Max(cap, Math.Min(_liveBound, s.Live));
        Check(s.Overflow == Math.Max(0, s.Live - s.Size), "overflow is not max(0, live - size)");
        Check(s.Idle == 0 || s.Waiters == 0, $"a caller waits while a worker is idle: {s}");
        bool backoff = s.State == PoolState.Backoff;

        // In backoff a probe may start a worker nobody needs yet (it ends backoff, then is dismissed as surplus);
        // with a cooldown, surplus workers stay idle until it passes; while a start is in flight, a warm worker is
        // kept (the start's end takes the surplus).
        // A worker whose replacement has joined (warm recycling) stays until its checkin: the pair counts once.
        Check(backoff || Cooldown || s.Idle == 0 || s.Live - s.Replacing <= s.Size || s.Starting > 0, $"an idle worker while the pool has overflow (no cooldown): {s}");
        Check(!backoff || BackoffPossible, $"the pool is in backoff although MaxRestarts is {_options.MaxRestarts}");
        Check(backoff || s.Live >= s.Size, $"live {s.Live} below size {s.Size} outside backoff: {s}");
        Check(backoff || s.Waiters == 0 || s.Live >= cap || s.Starting >= s.Waiters, $"callers wait while the pool could start a worker: {s}");
        var expectedState = s.Idle > 0 ? PoolState.Ready : s.Live < cap ? PoolState.Overflow : PoolState.Full;
        Check(backoff || s.State == expectedState, $"state {s.State}, expected {expectedState}: {s}");

        // Each worker is in exactly one place; the test's leases match the pool's busy workers.
        Check(s.Workers.Count == s.Idle + s.Busy, $"{s.Workers.Count} workers listed for idle {s.Idle} + busy {s.Busy}");
        Check(s.Workers.Select(w => w.Id).Distinct().Count() == s.Workers.Count, "a worker is listed twice");
        Check(s.Workers.Count(w => w.State == WorkerState.Idle) == s.Idle, "the idle workers listed do not match the idle count");
        var busy = s.Workers.Where(w => w.State == WorkerState.Busy).Select(w => w.Id).ToHashSet();
        var inPool = s.Workers.Select(w => w.Id).ToHashSet();
        var heldLive = _held.Where(h => !h.Dead).ToList();
        Check(heldLive.Select(h => h.WorkerId).Distinct().Count() == heldLive.Count, "two held leases on one worker");
        foreach (var held in heldLive)
        {
            Check(busy.Contains(held.WorkerId), $"{held} is held but the pool does not list w{held.WorkerId} busy");
            Check(held.Lease.IsActive && held.Lease.WorkerId == held.WorkerId, $"{held} is no longer active");
            Check(!held.Worker.IsStopped, $"{held}: its worker was stopped while leased");
        }

        foreach (var held in _held.Where(h => h.Dead))
        {
            Check(!inPool.Contains(held.WorkerId), $"{held}: the dead worker is still listed");
        }

        foreach (var worker in _fakes.All)
        {
            Check(!inPool.Contains(worker.Id) || !stoppedBefore.Contains(worker.Id), $"w{worker.Id} is listed but was stopped");
            Check(worker.StopCount <= 1, $"w{worker.Id} was stopped {worker.StopCount} times");
        }

        if (!quiesced)
        {
            return;
        }

        Check(s.Starting == 0, "starts in flight at quiescence");
        Check(busy.SetEquals(heldLive.Select(h => h.WorkerId)), $"busy [{string.Join(",", busy)}] but held [{string.Join(",", heldLive)}]");
        Check(_fakes.Started - _fakes.Stops == s.Idle + s.Busy, $"started {_fakes.Started} - stopped {_fakes.Stops} != idle {s.Idle} + busy {s.Busy}");
        foreach (var worker in _fakes.All)
        {
            Check(inPool.Contains(worker.Id) ? worker.StopCount == 0 : worker.StopCount == 1, $"w{worker.Id} is listed and stopped, or neither");
        }

        foreach (var worker in _broken)
        {
            Check(worker.StopCount == 1 && !inPool.Contains(worker.Id), $"w{worker.Id} was checked in broken but not stopped");
        }

        // Totals agree with what the test saw.
        int failedValidations = (_factory as ValidatingChaosFactory)?.FailedValidations ?? 0;
        Check(s.TotalCheckouts == _leasesReceived + failedValidations, $"TotalCheckouts {s.TotalCheckouts}, leases received {_leasesReceived} + failed validations {failedValidations}");
        Check(s.TotalTimeouts == _timeoutsReceived, $"TotalTimeouts {s.TotalTimeouts}, timeouts received {_timeoutsReceived}");
        Check(s.TotalRejections == _rejectionsReceived, $"TotalRejections {s.TotalRejections}, rejections received {_rejectionsReceived}");
        Check(s.TotalDeaths == _deathsCaused + failedValidations, $"TotalDeaths {s.TotalDeaths}, deaths caused {_deathsCaused} + failed validations {failedValidations}");
        Check(s.TotalStartFailures == _fakes.FailedStarts + _factory.DiedDuringStart, $"TotalStartFailures {s.TotalStartFailures}, injected {_fakes.FailedStarts} + {_factory.DiedDuringStart}");
        Check(s.TotalStarts == _fakes.Started - _factory.DiedDuringStart, $"TotalStarts {s.TotalStarts}, factory started {_fakes.Started} - died during start {_factory.DiedDuringStart}");
        Check(s.TotalRestarts <= s.TotalStarts - _options.Size, $"TotalRestarts {s.TotalRestarts} exceeds the starts after the fill ({s.TotalStarts} - {_options.Size})");
    }

    private void CheckModel(PoolStatus s)
    {
        var m = _model!;
        void Same<T>(T expected, T actual, string what)
            => Check(EqualityComparer<T>.Default.Equals(expected, actual), $"{what}: model {expected}, pool {actual}");

        Same(m.Size, s.Size, "size");
        Same(m.MaxOverflow, s.MaxOverflow, "max overflow");
        Same(m.Idle, s.Idle, "idle");
        Same(m.Busy, s.Busy, "busy");
        Same(0, s.Starting, "starting");
        Same(m.Waiters.Count, s.Waiters, "waiters");
        Same(m.State, s.State, "state");
        Same(m.Started, _fakes.Started, "workers started");
        Same(m.Stops, _fakes.Stops, "workers stopped");
        Same(m.Checkouts, s.TotalCheckouts, "total checkouts");
        Same(m.Timeouts, s.TotalTimeouts, "total timeouts");
        Same(m.Rejections, s.TotalRejections, "total rejections");
        Same(m.Restarts, s.TotalRestarts, "total restarts");
        Same((long)m.Started, s.TotalStarts, "total starts");
        Same(m.Deaths, s.TotalDeaths, "total deaths");
        Same(0L, s.TotalStartFailures, "total start failures");
        foreach (var call in _calls)
        {
            Check(call.Expected == Outcome.Pending || call.Actual == call.Expected, $"{call}: model expected {call.Expected}, it is {call.Actual}");
            Check(call.Expected != Outcome.Pending || !call.Task.IsCompleted, $"{call} completed ({call.Actual}) but the model has it waiting");
        }
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvariantViolationException(what);
        }
    }

    private static async Task<Lease<FakeWorker>?> Await(ValueTask<Lease<FakeWorker>> checkout) => await checkout;

    private static async Task<Lease<FakeWorker>?> Await(ValueTask<Lease<FakeWorker>?> checkout) => await checkout;
}

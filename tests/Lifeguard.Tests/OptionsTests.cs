using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void Validate_Defaults_AreValid()
    {
        var options = new PoolOptions();

        options.Validate();

        Assert.Equal(5, options.Size);
        Assert.Equal(0, options.MaxOverflow);
        Assert.Equal(TimeSpan.FromSeconds(5), options.CheckoutTimeout);
        Assert.Equal(TimeSpan.Zero, options.OverflowIdleTimeout);
        Assert.Equal(PoolStrategy.Lifo, options.Strategy);
        Assert.Equal(0.025, options.MaxWorkerLifetimeVariance);
        Assert.Null(options.RandomSeed);
    }

    [Theory]
    [InlineData("Size", "Size must be at least 0 (was -1)")]
    [InlineData("MaxOverflow", "MaxOverflow must be at least 0 (was -2)")]
    [InlineData("SizeAndMaxOverflowZero", "Size + MaxOverflow must be at least 1")]
    [InlineData("SizePlusMaxOverflowTooLarge", "Size + MaxOverflow must fit in an Int32")]
    [InlineData("CheckoutTimeout", "CheckoutTimeout must be zero, positive or Timeout.InfiniteTimeSpan (was -00:00:02)")]
    [InlineData("DrainTimeout", "DrainTimeout must be zero, positive or Timeout.InfiniteTimeSpan (was -00:00:03)")]
    [InlineData("OverflowIdleTimeout", "OverflowIdleTimeout must be zero, positive or infinite (was -00:00:04)")]
    [InlineData("MaxWaiters", "MaxWaiters must be at least 0 or null (was -1)")]
    [InlineData("MaxRestarts", "MaxRestarts must be at least 0 or null (was -1)")]
    [InlineData("RestartWindow", "RestartWindow must be positive (was 00:00:00)")]
    [InlineData("BackoffInitialDelay", "BackoffInitialDelay must be positive (was -00:00:01)")]
    [InlineData("BackoffMaxDelay", "BackoffMaxDelay (00:00:01) must be at least BackoffInitialDelay (00:00:02)")]
    [InlineData("MaxUsesPerWorker", "MaxUsesPerWorker must be at least 1 or null (was 0)")]
    [InlineData("MaxUsesJitter", "MaxUsesJitter must be at least 0 (was -1)")]
    [InlineData("MaxWorkerLifetime", "MaxWorkerLifetime must be positive (was 00:00:00)")]
    [InlineData("LeakDetectionThreshold", "LeakDetectionThreshold must be positive (was -00:00:01)")]
    [InlineData("IdleCheckAfter", "IdleCheckAfter must be positive (was 00:00:00)")]
    [InlineData("IdleCheckTimeout", "IdleCheckTimeout must be positive (was -00:00:01)")]
    [InlineData("MaxWorkerLifetimeVarianceNegative", "MaxWorkerLifetimeVariance must be from 0 to 1 (was -0.1)")]
    [InlineData("MaxWorkerLifetimeVarianceAboveOne", "MaxWorkerLifetimeVariance must be from 0 to 1 (was 1.5)")]
    [InlineData("MaxWorkerLifetimeVarianceNaN", "MaxWorkerLifetimeVariance must be from 0 to 1 (was NaN)")]
    [InlineData("Name", "Name must not be empty")]
    public void Validate_OffendingValue_ThrowsArgumentExceptionNamingIt(string setting, string expected)
    {
        var options = new PoolOptions { Name = "orders" };
        switch (setting)
        {
            case "Size": options.Size = -1; break;
            case "MaxOverflow": options.MaxOverflow = -2; break;
            case "SizeAndMaxOverflowZero": (options.Size, options.MaxOverflow) = (0, 0); break;
            case "SizePlusMaxOverflowTooLarge": (options.Size, options.MaxOverflow) = (int.MaxValue, 1); break;
            case "CheckoutTimeout": options.CheckoutTimeout = TimeSpan.FromSeconds(-2); break;
            case "DrainTimeout": options.DrainTimeout = TimeSpan.FromSeconds(-3); break;
            case "OverflowIdleTimeout": options.OverflowIdleTimeout = TimeSpan.FromSeconds(-4); break;
            case "MaxWaiters": options.MaxWaiters = -1; break;
            case "MaxRestarts": options.MaxRestarts = -1; break;
            case "RestartWindow": options.RestartWindow = TimeSpan.Zero; break;
            case "BackoffInitialDelay": options.BackoffInitialDelay = TimeSpan.FromSeconds(-1); break;
            case "BackoffMaxDelay": (options.BackoffInitialDelay, options.BackoffMaxDelay) = (TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)); break;
            case "MaxUsesPerWorker": options.MaxUsesPerWorker = 0; break;
            case "MaxUsesJitter": options.MaxUsesJitter = -1; break;
            case "MaxWorkerLifetime": options.MaxWorkerLifetime = TimeSpan.Zero; break;
            case "LeakDetectionThreshold": options.LeakDetectionThreshold = TimeSpan.FromSeconds(-1); break;
            case "IdleCheckAfter": options.IdleCheckAfter = TimeSpan.Zero; break;
            case "IdleCheckTimeout": options.IdleCheckTimeout = TimeSpan.FromSeconds(-1); break;
            case "MaxWorkerLifetimeVarianceNegative": options.MaxWorkerLifetimeVariance = -0.1; break;
            case "MaxWorkerLifetimeVarianceAboveOne": options.MaxWorkerLifetimeVariance = 1.5; break;
            case "MaxWorkerLifetimeVarianceNaN": options.MaxWorkerLifetimeVariance = double.NaN; break;
            case "Name": options.Name = " "; break;
            default: throw new ArgumentOutOfRangeException(nameof(setting), setting, null);
        }

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SeveralOffendingValues_NamesThemAll()
    {
        var options = new PoolOptions { Name = "orders", Size = -3, MaxOverflow = -4, CheckoutTimeout = TimeSpan.FromSeconds(-1) };

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("'orders'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Size must be at least 0 (was -3)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MaxOverflow must be at least 0 (was -4)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("CheckoutTimeout", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(-1)] // Timeout.InfiniteTimeSpan
    public void Validate_TimeoutsZeroPositiveOrInfinite_AreValid(int milliseconds)
    {
        var timeout = TimeSpan.FromMilliseconds(milliseconds);
        var options = new PoolOptions { CheckoutTimeout = timeout, DrainTimeout = timeout, OverflowIdleTimeout = timeout };

        options.Validate();
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    public void Validate_SizeOrMaxOverflowZero_IsValidWhileTheirSumIsAtLeastOne(int size, int maxOverflow)
    {
        new PoolOptions { Size = size, MaxOverflow = maxOverflow }.Validate();
    }

    [Fact]
    public async Task StartAsync_InvalidOptions_ThrowsBeforeStartingAnyWorker()
    {
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(new FakeTimeProvider(), size: -1);

        var ex = await Assert.ThrowsAnyAsync<ArgumentException>(() => Pool.StartAsync(options, factory));

        Assert.Contains("(was -1)", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, factory.StartAttempts);
    }

    [Fact]
    public async Task StartAsync_OptionsChangedAfterwards_RunningPoolUnaffected()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        await using var pool = await Pool.StartAsync(options, factory);

        options.MaxOverflow = 5;
        options.Size = 3;
        options.CheckoutTimeout = TimeSpan.Zero;

        var status = pool.GetStatus();
        Assert.Equal((1, 0), (status.Size, status.MaxOverflow));
        using var held = await pool.CheckoutAsync();
        var waiting = pool.CheckoutAsync().AsTask(); // still the 5 s timeout, and still no overflow
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, factory.StartAttempts);
        time.Advance(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<PoolTimeoutException>(() => waiting);
    }

    [Fact]
    public async Task StartAsync_LeakDetectionThresholdBeyondTheTimerRange_Starts()
    {
        // The system clock, whose timers take at most about 49.7 days: a valid (positive) threshold may be longer.
        var options = Scenario.Options(time: null, size: 1);
        options.LeakDetectionThreshold = TimeSpan.FromDays(400);

        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        using var lease = await pool.CheckoutAsync();
        Assert.Equal(1, pool.GetStatus().Busy);
    }
}

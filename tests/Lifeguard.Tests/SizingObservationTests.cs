using Lifeguard.Testing;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class SizingObservationTests
{
    [Fact]
    public async Task Status_SteadyLoad_MeasuresRateAndLeaseTimeAndAdvises()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 10);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        Assert.Null(pool.GetStatus().Sizing); // nothing measured yet

        // 20 s of 4 arrivals a second, each holding its worker for 0.5 s: L = 4/s × 0.5 s = 2.
        for (int second = 0; second < 20; second++)
        {
            var leases = new List<Lease<FakeWorker>>();
            for (int i = 0; i < 4; i++)
            {
                leases.Add(await pool.CheckoutAsync());
            }

            time.Advance(TimeSpan.FromMilliseconds(500));
            leases.ForEach(l => l.Dispose());
            time.Advance(TimeSpan.FromMilliseconds(500));
        }

        var sizing = pool.GetStatus().Sizing;
        Assert.NotNull(sizing);
        Assert.InRange(sizing.ArrivalRate, 3.5, 4.5);
        Assert.InRange(sizing.PeakRate, 4 - 1e-9, 4 + 1e-9);
        Assert.InRange(sizing.MeanBusy, 1.8, 2.2);                                           // L sampled 4 times a second
        Assert.InRange(sizing.MeanLeaseTime, TimeSpan.FromMilliseconds(450), TimeSpan.FromMilliseconds(580)); // W = L / λ
        Assert.Equal(2, sizing.Advice.Size);
        Assert.InRange(sizing.Window, TimeSpan.FromSeconds(19), TimeSpan.FromSeconds(21));
    }

    [Fact]
    public async Task FirstCheckout_ClockRunsTheSamplerInsideChange_CompletesAndSamples()
    {
        // The first checkout arms the sampler with a due time of zero while it holds the pool's lock, and
        // FakeTimeProvider runs such a timer inside Change. The pool runs that callback once the lock is released; it
        // used to enter its lock, which is not reentrant, a second time on the same thread (a hang in Release).
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), new FakeWorkerFactory());

        var checkout = pool.CheckoutAsync();

        Assert.True(checkout.IsCompletedSuccessfully);
        var first = await checkout;
        Assert.True(first.IsActive);
        time.Advance(TimeSpan.FromSeconds(1));
        var second = await pool.CheckoutAsync();
        time.Advance(TimeSpan.FromSeconds(1));
        var sizing = pool.GetStatus().Sizing;
        Assert.NotNull(sizing); // the sampler ran, from the first checkout on
        Assert.InRange(sizing.MeanBusy, 1, 2);
        first.Dispose();
        second.Dispose();
    }

    [Fact]
    public async Task Status_LongAfterTheLoadStopped_HasNoObservation()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 2);
        options.SizingWindow = TimeSpan.FromSeconds(10);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        for (int second = 0; second < 5; second++)
        {
            (await pool.CheckoutAsync()).Dispose();
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.NotNull(pool.GetStatus().Sizing);
        time.Advance(TimeSpan.FromDays(2)); // an idle pool stops its measurement ticks: this is quick
        Assert.Null(pool.GetStatus().Sizing);
    }

    [Fact]
    public async Task Metrics_ExposeRateLeaseTimeAndAdvice()
    {
        var time = new FakeTimeProvider();
        using var metrics = new TestMetrics();
        var options = Scenario.Options(time, size: 4, metrics: metrics);
        using var rate = metrics.Collect<double>("lifeguard.pool.arrival_rate");
        using var leaseMean = metrics.Collect<double>("lifeguard.pool.lease.mean");
        using var adviceSize = metrics.Collect<double>("lifeguard.pool.advice.size");
        using var adviceOverflow = metrics.Collect<double>("lifeguard.pool.advice.max_overflow");
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        for (int second = 0; second < 5; second++)
        {
            var lease = await pool.CheckoutAsync();
            time.Advance(TimeSpan.FromMilliseconds(250));
            lease.Dispose();
            time.Advance(TimeSpan.FromMilliseconds(750));
        }

        static double Observe(MetricCollector<double> gauge)
        {
            gauge.RecordObservableInstruments();
            return Assert.IsType<CollectedMeasurement<double>>(gauge.LastMeasurement).Value;
        }

        Assert.InRange(Observe(rate), 0.5, 1.5);
        Assert.InRange(Observe(leaseMean), 0.15, 0.35); // held 0.25 s; L is sampled every 0.25 s
        Assert.Equal(1, Observe(adviceSize));
        Assert.InRange(Observe(adviceOverflow), 0, 1);
    }
}

"""Benchmark machinery shared by the leaderboard and the ablation: what to score, what each model sees,
predict and score (resumable), rank with statistics, and the one typed results record.

* :mod:`.entries`: what to score (:class:`Entry`, parsed from ``--entry`` text or an entries TOML file);
* :mod:`.samples`: what each model sees (:class:`EvalSample`, evaluation trimaps, staged inputs);
* :mod:`.runner`: predict and score, resumable (:func:`predict_entry`, :func:`score_predictions`,
  :func:`validate_submission`);
* :mod:`.ranking`: statistics only (:func:`summary_rows`, :func:`group_means`, :class:`StatsConfig`);
* :mod:`.record`: the results record (:class:`ResultsRecord`, format versioned in one place).

Nothing here imports :mod:`matting_data.pipelines.report`, the leaderboard or the ablation: they sit on top.
"""

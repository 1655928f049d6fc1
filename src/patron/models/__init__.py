"""Customer models: scikit-learn style estimators for segments, churn, purchase, spend and CLV."""

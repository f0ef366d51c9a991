"""Task logic behind the Airflow DAGs, kept out of the DAG files so that parsing stays light."""
